"""The cascade's impact windows (dnsrace_lab.harness.impact), from a hand-written history."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.harness.impact import LAYERS, chain, impact_windows, spans


def fig(kind: str, t: float, **detail: Any) -> dict[str, Any]:
    return {"source": "figures", "kind": kind, "t": t, "detail": detail}


def probe(t: float, kind: str) -> dict[str, Any]:
    return {"source": "client", "process": "resolver", "type": kind, "t": t}


def test_spans_join_short_gaps_and_split_long_ones() -> None:
    lines = [{"t": float(t), "x": x} for t, x in enumerate([0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1])]
    assert spans(lines, lambda line: line["x"] == 1) == [(1.0, 4.0), (11.0, 11.0)]


def test_a_one_second_blip_is_no_window_and_the_leases_window_starts_after_they_were_held() -> None:
    history = [{"source": "figures", "kind": "netmgr_window", "t": float(t),
                "detail": {"without_network": 1 if t == 5 else 0, "slots": 12, "queue": 0}} for t in range(20)]
    history += [{"source": "figures", "kind": "lease_window", "t": float(t),   # a reset lab: none, then brought in
                 "detail": {"leased_fraction": min(1.0, t / 10), "queue": 0}} for t in range(20)]
    assert impact_windows(history) == []


def test_three_samples_of_answering_targets_out_are_a_window_even_when_sampled_under_two_seconds_apart() -> None:
    """A legacy cascade-full run of reproduce-rate: 7 answering targets out (0 of 12 in service) in the
    lines at +180.9, +181.9 and +182.7 s; the window was dropped as shorter than 2 s."""
    history = [fig("nlb_window", t, out_while_networked=7 if t in (180.9, 181.9, 182.7) else 0,
                   in_service=0 if t in (180.9, 181.9, 182.7) else 12, targets=12)
               for t in (178.8, 179.8, 180.9, 181.9, 182.7, 183.7, 184.7)]
    [capacity] = impact_windows(history)
    assert (capacity.layer, capacity.start, capacity.end) == ("capacity", 180.9, 182.7)
    assert capacity.peak == "7 answering targets out; 0 of 12 in service at the lowest"
    # Two lines in a row are a window, however close: 0.8 s apart too.
    two = [fig("nlb_window", t, out_while_networked=7 if t in (181.9, 182.7) else 0, in_service=12, targets=12)
           for t in (180.9, 181.9, 182.7, 183.7)]
    assert [(w.start, w.end) for w in impact_windows(two)] == [(181.9, 182.7)]


def test_every_layer_that_broke_is_a_window_in_the_graphs_order() -> None:
    history = [probe(0.0, "ok"), probe(10.0, "fail"), probe(40.0, "fail"), probe(60.0, "ok")]
    history += [fig("lease_window", t, leased_fraction=1.0 if t < 50 else 0.0 if t < 120 else 0.97, queue=t)
                for t in range(0, 200, 1)]
    history += [fig("netmgr_window", t, without_network=3 if 130 <= t <= 160 else 0, slots=12, queue=500)
                for t in range(0, 200)]
    history += [fig("nlb_window", t, out_while_networked=8 if 140 <= t <= 150 else 0, in_service=0 if 140 <= t <= 150
                    else 12, targets=12) for t in range(0, 200)]
    history += [fig("client_window", t, success_rate=0.0 if 141 <= t <= 151 else 1.0, errors=20 if 141 <= t <= 151
                    else 0) for t in range(0, 200)]
    windows = impact_windows(history)
    assert [w.layer for w in windows] == list(LAYERS)
    dns, leases, net, capacity, clients = windows
    assert (dns.start, dns.end) == (10.0, 60.0)
    assert (leases.start, leases.end, leases.open) == (50.0, 120.0, False)
    assert (net.start, net.end) == (130.0, 160.0) and "3 of 12 slots" in net.peak
    assert (capacity.start, capacity.end) == (140.0, 150.0) and "0 of 12 in service" in capacity.peak
    assert (clients.start, clients.end) == (141.0, 151.0) and "220 errors" in clients.peak
    lines = chain(windows, origin=0.0)
    assert lines[0].startswith("1. DNS (root)") and lines[2].startswith("3. networking (from leases)")


def test_a_run_where_only_dns_broke_has_one_window() -> None:
    history = [probe(0.0, "ok"), probe(10.0, "fail"), probe(20.0, "ok")]
    history += [fig("lease_window", t, leased_fraction=1.0, queue=0) for t in range(30)]
    history += [fig("client_window", t, success_rate=1.0, errors=0) for t in range(30)]
    assert [w.layer for w in impact_windows(history)] == ["DNS"]
