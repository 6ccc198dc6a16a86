"""Checker (7) leases-recover, on hand-written histories: figures rows against the moment DNS came back."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.harness.checker import UNKNOWN, Bounds, FaultWindow, check_history, check_leases_recover
from dnsrace_lab.harness.checker.verdict import STORAGE_CUT

BOUNDS = Bounds(lease_recovery_bound_s=60.0)


def probes(empty_from: float, back_at: float) -> list[dict[str, Any]]:
    rows = [{"process": "resolver", "type": "ok", "t": 0.0}]
    rows += [{"process": "resolver", "type": "fail", "t": t} for t in range(int(empty_from), int(back_at))]
    rows.append({"process": "resolver", "type": "ok", "t": back_at})
    return rows


def leases(fractions: dict[float, float], queue: int = 0) -> list[dict[str, Any]]:
    return [{"source": "figures", "kind": "lease_window", "t": t,
             "detail": {"leased_fraction": f, "queue": queue + int(t), "head_age_s": 0.0, "goodput_per_s": 0}}
            for t, f in sorted(fractions.items())]


def test_recovered_within_the_bound_is_valid() -> None:
    verdict = check_leases_recover(probes(10, 100), [], leases({99: 0.0, 130: 0.5, 150: 0.96}), BOUNDS, end=200)
    assert verdict.valid is True and verdict.measures["recovery_s"] == 50.0


def test_recovered_only_after_the_bound_is_invalid() -> None:
    verdict = check_leases_recover(probes(10, 100), [], leases({99: 0.0, 150: 0.5, 161: 0.99}), BOUNDS, end=200)
    assert verdict.valid is False


def test_collapsed_to_the_end_is_invalid_with_the_queue_in_the_evidence() -> None:
    rows = leases({t: 0.0 for t in range(90, 300, 10)}, queue=1000)
    verdict = check_leases_recover(probes(10, 100), [], rows, BOUNDS, end=300)
    assert verdict.valid is False
    assert "queue" in verdict.evidence[1] and verdict.measures["queue_last"] > verdict.measures["queue_at_dns_back"]


def test_a_history_that_ends_before_the_bound_is_unknown() -> None:
    verdict = check_leases_recover(probes(10, 100), [], leases({99: 0.0, 120: 0.3}), BOUNDS, end=130)
    assert verdict.valid == UNKNOWN


def test_the_moment_dns_came_back_is_the_resolvers_not_an_earlier_fraction() -> None:
    # 96 % before the outage does not count: only lines after DNS came back do.
    verdict = check_leases_recover(probes(10, 100), [], leases({5: 0.96, 120: 0.1}), BOUNDS, end=200)
    assert verdict.valid is False


def test_only_runs_whose_bounds_ask_for_it_are_judged_on_it() -> None:
    run = {"source": "run", "bounds": {"converge_bound_s": 20.0}}
    assert "leases-recover" not in check_history([run], "dynamodb.us-east-1.lab.test")
    run["bounds"]["lease_recovery_bound_s"] = 60.0
    assert "leases-recover" in check_history([run], "dynamodb.us-east-1.lab.test")


def cut(start: float, stop: float | None) -> list[FaultWindow]:
    return [FaultWindow(9, STORAGE_CUT, "dynamodb", start, stop, {})]


def test_a_storage_cut_that_outlasts_the_resolvers_outage_moves_the_moment_to_its_stop() -> None:
    # The resolver answered again at 100; the storage node came back at 140: leased at 190 is 50 s later.
    verdict = check_leases_recover(probes(10, 100), cut(60, 140), leases({99: 0.0, 150: 0.2, 190: 0.96}), BOUNDS,
                                   end=260)
    assert verdict.valid is True and verdict.measures["dns_back_t"] == 140 and verdict.measures["recovery_s"] == 50.0
    assert "the storage node answered again" in verdict.evidence[0]


def test_a_storage_cut_in_a_run_where_the_resolver_never_emptied_is_judged_from_its_stop() -> None:
    rows = [{"process": "resolver", "type": "ok", "t": float(t)} for t in range(0, 300, 5)]
    verdict = check_leases_recover(rows, cut(20, 80), leases({t: 0.0 for t in range(80, 300, 10)}), BOUNDS, end=300)
    assert verdict.valid is False and verdict.measures["dns_back_t"] == 80


def test_a_cut_that_ended_before_the_resolver_came_back_leaves_the_resolvers_moment() -> None:
    verdict = check_leases_recover(probes(10, 100), cut(20, 50), leases({99: 0.0, 170: 0.96}), BOUNDS, end=260)
    assert verdict.measures["dns_back_t"] == 100 and verdict.valid is False
