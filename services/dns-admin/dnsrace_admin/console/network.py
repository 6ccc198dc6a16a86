"""The cascade's act 2 in the console (pure): the dependency graph's nodes as they are now, and the
third root alert, new instances without networking and the load balancer taking capacity out.

    graph(figures, alerting, now_t)               each node of dnsrace.blast_radius.NODES with its state
                                                  ("ok", "degraded", "broken", "unknown": no fresh line)
    network_alert(figures, cascade, now_t)        the alert, or None while Network Manager, the load
                                                  balancer and its clients are fine (or not running)

`figures` is the newest line of each kind (observe.read_figures). The alert is raised while a slot's
instance has waited NETWORK_WAIT_S or more for its networking, while an answering target is out of
service, or while the clients get less than 95 % of their requests served; it is one alert for the three,
titled by the worst, and its cause is the lease manager's alert when there is one (active: "caused by"),
which is how the incident unfolded: the leases came back, and their network state was the backlog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dnsrace.blast_radius import FIGURES_OF, NODES, node_state

from .alert import Alerting
from .cascade import FIGURES_STALE_S

__all__ = ["NETWORK_WAIT_S", "graph", "network_alert"]

NETWORK_WAIT_S = 2.0    # a replacement is networked within a second when nothing is queued


def _fresh(figures: Mapping[str, Any] | None, kind: str, now_t: float) -> Mapping[str, Any] | None:
    line = (figures or {}).get(kind)
    return line if line and now_t - float(line["t"]) <= FIGURES_STALE_S else None


def graph(figures: Mapping[str, Any] | None, alerting: Alerting, now_t: float) -> list[dict[str, str]]:
    dns_broken = alerting.alert is not None and alerting.alert.state != "recovering"
    out = [{"node": "DNS", "state": "broken" if dns_broken else "ok"}]
    for node in NODES[1:]:
        line = _fresh(figures, FIGURES_OF[node], now_t)
        out.append({"node": node, "state": node_state(node, line) if line is not None else "unknown"})
    return out


def network_alert(figures: Mapping[str, Any] | None, cascade: Mapping[str, Any] | None,
                  now_t: float) -> dict[str, Any] | None:
    net = _fresh(figures, "netmgr_window", now_t) or {}
    nlb = _fresh(figures, "nlb_window", now_t) or {}
    clients = _fresh(figures, "client_window", now_t) or {}
    dark = int(net.get("without_network") or 0) if float(net.get("head_age_s") or 0) >= NETWORK_WAIT_S else 0
    answering_out = int(nlb.get("out_while_networked") or 0)
    rate = clients.get("success_rate")
    failing = rate is not None and float(rate) < 0.95
    if not (dark or answering_out or failing):
        return None
    title = ("clients failing behind the load balancer" if failing else
             "NLB: answering targets taken out of service" if answering_out else
             "EC2: new instances without networking")
    cause = (f"caused by the lease manager's alert: {cascade['title']}" if cascade else
             f"Network Manager's backlog: {net.get('queue')} items, the oldest {net.get('head_age_s')} s old "
             "(droplets leased again after the lease manager's recovery, and launches)")
    way_out = ("throttle launches by Network Manager's queue (NETMGR_MODE=safe) and turn the load balancer's automatic "
               "failover off or cap it (NLB_MODE=safe: velocity control, fail-open); then watch this alert")
    return {
        "kind": "network", "state": "open", "title": title, "cause": cause, "way_out": way_out,
        "t": max(float(line["t"]) for line in (net, nlb, clients) if line) if (net or nlb or clients) else now_t,
        "summary": (f"{net.get('without_network')} of {net.get('slots')} slots without networking (queue "
                    f"{net.get('queue')}); {nlb.get('in_service')} of {nlb.get('targets')} targets in service, "
                    f"{answering_out} answering ones out (design {nlb.get('mode')}); clients "
                    f"{'-' if rate is None else f'{float(rate):.0%}'} served"),
    }
