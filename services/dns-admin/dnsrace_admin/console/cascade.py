"""The cascade's root alert (pure): EC2's lease manager, the second impact window, linked to its cause.

    cascade_alert(figures, alerting, now_t)   the alert, or None while the leases are healthy (or unknown)

`figures` is the newest line of each kind in dnsrace:figures (observe.read_figures): dwfm's
`lease_window` and the launcher's `launch_window`. The alert is raised while fewer than 95 % of droplets
hold a live lease, not counting droplets never leased yet (a fresh start brings them in), and says what it is: collapsed (goodput near 0 while the queue grows: work is done and
wasted), recovering, or lapsed while DNS is still out. Its cause is the DNS root alert when there is one
(active, or resolved: "DNS came back N s ago and the lease manager did not"), which is the incident's
lesson: the trigger gone, the system still broken.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .alert import Alerting

__all__ = ["FIGURES_STALE_S", "HEALTHY", "cascade_alert"]

HEALTHY = 0.95            # the lease manager is healthy at or above this leased fraction
FIGURES_STALE_S = 10.0    # dwfm writes a line a second: older than this, it is not running (said so)


def _state(leases: Mapping[str, Any], dns_out: bool) -> str:
    if dns_out:
        return "lapsing"
    if float(leases.get("goodput_per_s") or 0) < 1.0 and int(leases.get("queue") or 0) > 0:
        return "collapsed"
    return "recovering"


def cascade_alert(figures: Mapping[str, Any] | None, alerting: Alerting, now_t: float) -> dict[str, Any] | None:
    leases = (figures or {}).get("lease_window")
    if not leases:
        return None
    stale = now_t - float(leases["t"]) > FIGURES_STALE_S
    fraction = float(leases.get("leased_fraction") or 0)
    # Droplets never leased yet (a fresh start brings them in over one renewal period) are not lost capacity.
    new = int(leases.get("new") or 0) / max(int(leases.get("droplets") or 1), 1)
    if fraction + new >= HEALTHY and not stale:
        return None
    dns_out = alerting.alert is not None and alerting.alert.state != "recovering"
    state = "silent" if stale else _state(leases, dns_out)
    launches = (figures or {}).get("launch_window") or {}
    if alerting.alert is not None:
        cause = f"caused by the DNS root alert: {alerting.alert.title}"
    elif alerting.resolved is not None:
        cause = (f"DNS came back ({alerting.resolved.summary}; cleared at {alerting.resolved.cleared_at:.0f}) and the "
                 "lease manager did not: the trigger is gone, the collapse is its own")
    else:
        cause = "no DNS alert is known (the console keeps the newest events only)"
    title = {"collapsed": "EC2: droplet leases in congestive collapse",
             "recovering": "EC2: droplet leases recovering",
             "lapsing": "EC2: droplet leases lapsing (DynamoDB's name does not resolve)",
             "silent": "EC2: the lease manager's figures stopped"}[state]
    way_out = {"collapsed": "waiting will not end it. Throttle incoming work and restart the lease manager "
                            "(make reproduce-outage SCENARIO=cascade-mitigate shows both moves); a restart alone "
                            "collapses again",
               "recovering": "none needed: it is coming back by itself",
               "lapsing": "repair DNS first (make repair); then watch this alert",
               "silent": "make ps; make logs (dwfm)"}[state]
    return {
        "kind": "leases", "state": state, "title": title, "cause": cause, "way_out": way_out, "t": leases["t"],
        "summary": (f"{fraction:.1%} of {leases.get('droplets')} droplets leased; queue {leases.get('queue'):,} "
                    f"(head {leases.get('head_age_s')} s old); goodput {leases.get('goodput_per_s')}/s of "
                    f"{leases.get('worked_per_s')}/s worked; design {leases.get('mode')}"),
        "launches": {key: launches.get(key) for key in ("ok", "insufficient_capacity", "throttled")} if launches else None,
    }
