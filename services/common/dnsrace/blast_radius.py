"""The cascade's dependency graph and how each node's state is read from the figures (pure), in one
place: timeline.html colours each second with it, the console each node's newest line.

    DNS → DynamoDB → DWFM → launches → Network Manager → NLB → clients

Each node reads one figures kind (dnsrace:figures) or, for DNS, the resolver's answers; its state is
"ok", "degraded" or "broken":

    DNS              broken: an empty answer
    DynamoDB         broken: a lease operation failed on DynamoDB's name (lease_window's failed.dns)
    DWFM             broken at <= 5 % leased, degraded below 95 % (never-leased droplets not counted)
    launches         broken: none started and some refused or failed; degraded: some refused, failed or waiting
    Network Manager  broken: a slot's instance without networking; degraded: a queue
    NLB              broken: an answering target out of service; degraded: any target out
    clients          broken below 95 % served; degraded below 100 %
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FIGURES_OF", "NODES", "node_state"]

NODES = ("DNS", "DynamoDB", "DWFM", "launches", "Network Manager", "NLB", "clients")
FIGURES_OF = {"DynamoDB": "lease_window", "DWFM": "lease_window", "launches": "launch_window",
              "Network Manager": "netmgr_window", "NLB": "nlb_window", "clients": "client_window"}


def node_state(node: str, line: Mapping[str, Any]) -> str:
    """One node's state from one line of its figures kind (FIGURES_OF[node])."""
    if node == "DynamoDB":
        return "broken" if int((line.get("failed") or {}).get("dns") or 0) else "ok"
    if node == "DWFM":
        new = int(line.get("new") or 0) / max(int(line.get("droplets") or 1), 1)
        fraction = float(line.get("leased_fraction") or 0)
        return "broken" if fraction + new <= 0.05 else "degraded" if fraction + new < 0.95 else "ok"
    if node == "launches":
        bad = sum(int(line.get(k) or 0) for k in ("insufficient_capacity", "throttled", "unanswered"))
        return ("broken" if bad and not int(line.get("ok") or 0) else
                "degraded" if bad or int(line.get("waiting") or 0) else "ok")
    if node == "Network Manager":
        return ("broken" if int(line.get("without_network") or 0) else
                "degraded" if int(line.get("queue") or 0) else "ok")
    if node == "NLB":
        return ("broken" if int(line.get("out_while_networked") or 0) else
                "degraded" if line.get("in_service") != line.get("targets") else "ok")
    if node == "clients":
        rate = line.get("success_rate")
        return "ok" if rate is None else "broken" if float(rate) < 0.95 else "degraded" if float(rate) < 1.0 else "ok"
    raise ValueError(f"no figures decide {node!r}'s state")
