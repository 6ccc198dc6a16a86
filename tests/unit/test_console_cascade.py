"""The console's second root alert (console/cascade.py): EC2's leases, linked to the DNS alert."""

from __future__ import annotations

from typing import Any

from dnsrace_admin.console.alert import Alerting, Resolved
from dnsrace_admin.console.cascade import cascade_alert


def figures(fraction: float, *, t: float = 100.0, goodput: float = 0.0, queue: int = 5000) -> dict[str, Any]:
    return {"lease_window": {"t": t, "leased_fraction": fraction, "droplets": 1000, "queue": queue,
                             "head_age_s": 40.0, "goodput_per_s": goodput, "worked_per_s": 98.0, "mode": "legacy"},
            "launch_window": {"t": t, "ok": 0, "insufficient_capacity": 5, "throttled": 0}}


NO_DNS_ALERT = Alerting(alert=None, resolved=None, episodes=(), newest_live=0)


def resolved_dns() -> Alerting:
    resolved = Resolved(summary="the endpoint aliased plan-000017, which did not exist", since=20.0,
                        cleared_by="operator", cleared_at=50.0)
    return Alerting(alert=None, resolved=resolved, episodes=(), newest_live=0)


def test_healthy_leases_raise_nothing_and_no_figures_raise_nothing() -> None:
    assert cascade_alert(figures(0.99), NO_DNS_ALERT, 100.0) is None
    assert cascade_alert({}, NO_DNS_ALERT, 100.0) is None


def test_collapsed_after_dns_came_back_names_the_resolved_dns_alert_as_its_cause() -> None:
    alert = cascade_alert(figures(0.0), resolved_dns(), 101.0)
    assert alert is not None and alert["state"] == "collapsed"
    assert "DNS came back" in alert["cause"] and "the trigger is gone" in alert["cause"]
    assert "restart alone collapses again" in alert["way_out"]
    assert alert["launches"] == {"ok": 0, "insufficient_capacity": 5, "throttled": 0}


def test_recovering_when_leases_come_back_with_goodput() -> None:
    alert = cascade_alert(figures(0.6, goodput=80.0, queue=10), resolved_dns(), 101.0)
    assert alert is not None and alert["state"] == "recovering"


def test_figures_that_stopped_are_said_not_taken_for_health() -> None:
    alert = cascade_alert(figures(0.99, t=10.0), NO_DNS_ALERT, 100.0)
    assert alert is not None and alert["state"] == "silent"


def test_make_status_prints_the_cascade_alert_with_its_cause() -> None:
    from dnsrace_lab.stack.status import _cascade_lines
    lines = _cascade_lines(cascade_alert(figures(0.0), resolved_dns(), 101.0))
    assert lines[0] == "ALERT (leases, collapsed): EC2: droplet leases in congestive collapse"
    assert any(line.startswith("  cause: DNS came back") for line in lines)
    assert _cascade_lines(None) == []


def test_droplets_being_brought_in_after_a_fresh_start_raise_nothing() -> None:
    onboarding = figures(0.3, goodput=30.0, queue=2)
    onboarding["lease_window"]["new"] = 700
    assert cascade_alert(onboarding, NO_DNS_ALERT, 100.0) is None
    onboarding["lease_window"]["new"] = 100      # 60 % lapsed: lost, not new
    assert cascade_alert(onboarding, NO_DNS_ALERT, 100.0) is not None
