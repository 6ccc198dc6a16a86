"""timeline.html draws the cascade's panels from a history's figures, and only when it has them."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.harness.report.timeline_svg import render_timeline


def history(with_figures: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{"source": "run", "scenario": "cascade", "mode": "legacy", "dwfm_mode": "legacy",
                                   "started": 100.0}]
    rows += [{"source": "client", "process": "resolver", "type": "ok", "t": 100.0 + t, "value": ["10.0.0.1"]}
             for t in range(10)]
    if with_figures:
        rows += [{"source": "figures", "kind": "lease_window", "t": 100.0 + t,
                  "detail": {"mode": "legacy", "leased_fraction": 1.0 - t / 10, "queue": 100 * t}} for t in range(10)]
        rows += [{"source": "figures", "kind": "launch_window", "t": 100.0 + t,
                  "detail": {"ok": 5 - t // 2, "insufficient_capacity": t // 2, "throttled": 0}} for t in range(10)]
    return rows


def test_the_lease_panels_are_drawn_from_the_figures() -> None:
    page = render_timeline(history(True), {})
    assert "leases (dwfm)" in page and "droplets leased" in page and "queue length (0-900)" in page
    assert page.count('fill="#2e9d4f"/>') >= 9            # a green bar per second with ok launches
    assert "reproduce-outage: scenario cascade, mode legacy, lease manager legacy" in page


def test_a_history_without_figures_has_no_lease_panels() -> None:
    assert "leases (dwfm)" not in render_timeline(history(False), {})
