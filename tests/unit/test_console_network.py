"""The console's act 2 (console/network.py): the dependency graph now, and the third root alert."""

from __future__ import annotations

from typing import Any

from dnsrace_admin.console.alert import Alerting
from dnsrace_admin.console.network import graph, network_alert

NO_DNS_ALERT = Alerting(alert=None, resolved=None, episodes=(), newest_live=0)


def figures(*, dark: int = 0, head_age_s: float = 0.0, out: int = 0, in_service: int = 12, rate: float = 1.0,
            t: float = 100.0) -> dict[str, Any]:
    return {"lease_window": {"t": t, "leased_fraction": 1.0, "droplets": 1000, "failed": {}},
            "launch_window": {"t": t, "ok": 5},
            "netmgr_window": {"t": t, "without_network": dark, "queue": 300 if dark else 0, "head_age_s": head_age_s,
                              "slots": 12},
            "nlb_window": {"t": t, "in_service": in_service, "targets": 12, "out_while_networked": out,
                           "mode": "legacy"},
            "client_window": {"t": t, "success_rate": rate}}


def test_a_healthy_fleet_raises_nothing_and_a_replacement_mid_propagation_is_no_alert() -> None:
    assert network_alert(figures(), None, 100.0) is None
    assert network_alert(figures(dark=1, head_age_s=0.3), None, 100.0) is None
    assert network_alert({}, None, 100.0) is None


def test_the_alert_is_titled_by_the_worst_layer_and_caused_by_the_lease_managers() -> None:
    dark = network_alert(figures(dark=3, head_age_s=12.0), None, 100.0)
    assert dark is not None and dark["title"] == "EC2: new instances without networking"
    assert "Network Manager's backlog" in dark["cause"]
    out = network_alert(figures(dark=3, head_age_s=12.0, out=6, in_service=3), {"title": "EC2: droplet leases recovering"},
                        100.0)
    assert out is not None and out["title"] == "NLB: answering targets taken out of service"
    assert out["cause"] == "caused by the lease manager's alert: EC2: droplet leases recovering"
    failing = network_alert(figures(out=6, in_service=0, rate=0.0), None, 100.0)
    assert failing is not None and failing["title"] == "clients failing behind the load balancer"


def test_stale_figures_raise_nothing_and_show_unknown_nodes() -> None:
    assert network_alert(figures(dark=3, head_age_s=12.0, t=50.0), None, 100.0) is None
    nodes = graph(figures(t=50.0), NO_DNS_ALERT, 100.0)
    assert [n["state"] for n in nodes] == ["ok"] + ["unknown"] * 6


def test_the_graph_colours_each_node_from_its_newest_line() -> None:
    nodes = graph(figures(dark=3, head_age_s=12.0, out=6, in_service=3, rate=0.5), NO_DNS_ALERT, 100.0)
    assert [n["node"] for n in nodes] == ["DNS", "DynamoDB", "DWFM", "launches", "Network Manager", "NLB", "clients"]
    assert [n["state"] for n in nodes] == ["ok", "ok", "ok", "ok", "broken", "broken", "broken"]
