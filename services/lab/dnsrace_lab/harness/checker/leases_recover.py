"""Invariant (7) leases-recover: see dnsrace_lab.harness.checker.

The lease manager's figures (`lease_window` rows, source `figures`: one a second) against the moment
the trigger was gone: the later of the end of the resolver's last empty window (the client's probes) and
the end of a cut of the storage node (the chaos campaign's STORAGE_CUT); when neither happened, the last
fault's stop. Valid when the leased fraction reaches the bound's
fraction within lease_recovery_bound_s of that moment; invalid when the history runs past the bound
without it; unknown when it ends before (never a guess).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dnsrace_lab.harness.checker.verdict import (PROPAGATION_STORM, STORAGE_CUT, UNKNOWN, Bounds, FaultWindow, Mark, Verdict,
                                                 empty_windows)

NAME = "leases-recover"


def dns_back(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow]) -> tuple[float | None, str]:
    """When DynamoDB was reachable by its name again, and how that moment was found."""
    moments = []
    empty = [w for w in empty_windows(probes, "resolver") if w.closed]
    if empty:
        moments.append((empty[-1].end, "the resolver answered again"))
    cuts = [w.stop for w in windows if w.fault == STORAGE_CUT and w.stop is not None]
    if cuts:
        moments.append((max(cuts), "the storage node answered again"))
    if moments:
        return max(moments)
    stops = [w.stop for w in windows if w.stop is not None and w.fault != PROPAGATION_STORM]
    if stops:
        return max(stops), "the last fault stopped (the resolver never answered empty)"
    return None, ""


def lease_lines(figures: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lease manager's per-second lines, oldest first, each its detail with its time."""
    return sorted(({**(row.get("detail") or {}), "t": float(row["t"])} for row in figures
                   if row.get("kind") == "lease_window"), key=lambda line: line["t"])


def _launches(figures: Sequence[dict[str, Any]], after: float) -> dict[str, int]:
    totals = {"ok": 0, "insufficient_capacity": 0, "throttled": 0, "unanswered": 0}
    for row in figures:
        if row.get("kind") == "launch_window" and float(row["t"]) >= after:
            for key in totals:
                totals[key] += int((row.get("detail") or {}).get(key) or 0)
    return totals


def check_leases_recover(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                         figures: Sequence[dict[str, Any]], bounds: Bounds, end: float) -> Verdict:
    bound = bounds.lease_recovery_bound_s
    lines = lease_lines(figures)
    back, how = dns_back(probes, windows)
    if bound is None or not lines or back is None:
        missing = ("no bound for it in the run line" if bound is None else
                   "no lease_window figures in the history" if not lines else "no moment DNS came back")
        return Verdict(NAME, UNKNOWN, (missing,))
    after = [line for line in lines if line["t"] >= back]
    at_back = after[0] if after else lines[-1]
    recovered = next((line for line in after if line["t"] <= back + bound
                      and float(line.get("leased_fraction") or 0) >= bounds.leased_fraction), None)
    launches = _launches(figures, back)
    measures: dict[str, Any] = {
        "dns_back_t": back, "leased_fraction_at_dns_back": at_back.get("leased_fraction"),
        "recovery_s": round(recovered["t"] - back, 1) if recovered else None,
        "leased_fraction_last": lines[-1].get("leased_fraction"), "queue_at_dns_back": at_back.get("queue"),
        "queue_last": lines[-1].get("queue"), "observed_after_dns_back_s": round(lines[-1]["t"] - back, 1),
        "launches_after_dns_back": launches}
    what = ("DNS back" if how.startswith("the resolver") else
            "DynamoDB back" if how.startswith("the storage node") else "the faults over")
    said = (f"{what} at {bounds.at(back)} ({how}): leased {at_back.get('leased_fraction')}, "
            f"queue {at_back.get('queue')}")
    marks = (Mark(back, "(7) DNS answers again" if what == "DNS back" else f"(7) {what}"),)
    if recovered is not None:
        return Verdict(NAME, True, (said, f"{bounds.leased_fraction:.0%} leased at {bounds.at(recovered['t'])}, "
                                          f"{recovered['t'] - back:.1f} s later (bound {bound:g} s)"),
                       marks, measures)
    if end < back + bound:
        return Verdict(NAME, UNKNOWN, (said, f"the history ends {end - back:.1f} s after, before the bound "
                                             f"({bound:g} s) ran out"), marks, measures)
    worst = max(float(line.get("leased_fraction") or 0) for line in after) if after else 0.0
    return Verdict(NAME, False, (
        said,
        f"not {bounds.leased_fraction:.0%} leased within {bound:g} s: at most {worst:.1%} in the "
        f"{lines[-1]['t'] - back:.0f} s observed after; queue {at_back.get('queue')} → {lines[-1].get('queue')}, "
        f"its head {lines[-1].get('head_age_s')} s old; goodput at the end {lines[-1].get('goodput_per_s')}/s",
        f"launches after {'DNS came back' if what == 'DNS back' else 'that'}: {launches['ok']} ok, {launches['insufficient_capacity']} insufficient "
        f"capacity, {launches['throttled']} throttled"),
        marks + (Mark(back + bound, "(7) bound ran out"),), measures)
