"""timeline.html's blast radius (report/blast_radius.py): each node's state per second, from figures."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.harness.checker import Verdict
from dnsrace_lab.harness.report.blast_radius import GREEN, NODES, ORANGE, RED, has_figures, states
from dnsrace_lab.harness.report.timeline_svg import render_timeline


def fig(kind: str, t: float, **detail: Any) -> dict[str, Any]:
    return {"source": "figures", "kind": kind, "t": t, "detail": detail}


HISTORY = [
    {"source": "client", "process": "resolver", "type": "ok", "t": 0.2},
    {"source": "client", "process": "resolver", "type": "fail", "t": 1.5},
    {"source": "client", "process": "resolver", "type": "ok", "t": 1.7},
    fig("lease_window", 1.0, leased_fraction=1.0, failed={}), fig("lease_window", 2.0, leased_fraction=0.0,
                                                                   failed={"dns": 4}),
    fig("launch_window", 2.0, ok=0, insufficient_capacity=5), fig("launch_window", 3.0, ok=3, waiting=2),
    fig("netmgr_window", 2.0, queue=0, without_network=0), fig("netmgr_window", 3.0, queue=400, without_network=2),
    fig("nlb_window", 2.0, in_service=12, targets=12, out_while_networked=0),
    fig("nlb_window", 3.0, in_service=0, targets=12, out_while_networked=8),
    fig("client_window", 2.0, success_rate=1.0), fig("client_window", 3.0, success_rate=0.0),
]


def test_each_node_is_coloured_by_its_own_figures() -> None:
    seen = states(HISTORY)
    assert list(seen) == list(NODES)
    assert seen["DNS"] == [(1.0, GREEN), (2.0, RED)]           # one empty answer makes its second red
    assert seen["DynamoDB"] == [(1.0, GREEN), (2.0, RED)]
    assert seen["DWFM"] == [(1.0, GREEN), (2.0, RED)]
    assert seen["launches"] == [(2.0, RED), (3.0, ORANGE)]
    assert seen["Network Manager"] == [(2.0, GREEN), (3.0, RED)]
    assert seen["NLB"] == [(2.0, GREEN), (3.0, RED)]
    assert seen["clients"] == [(2.0, GREEN), (3.0, RED)]


def test_the_timeline_draws_the_graph_and_the_linked_alerts_only_with_the_load_balancers_figures() -> None:
    run = {"source": "run", "scenario": "cascade-full", "mode": "legacy", "nlb": {"mode": "legacy"},
           "netmgr": {"mode": "legacy"}}
    page = render_timeline([run, *HISTORY], {"converges": Verdict("converges", True, ())})
    assert has_figures(HISTORY) and "blast radius" in page and "Network Manager →" in page
    assert "Impact windows" in page and "load balancer legacy" in page
    plain = [row for row in HISTORY if row.get("kind") != "nlb_window"]
    assert "blast radius" not in render_timeline([run, *plain], {"converges": Verdict("converges", True, ())})
