"""Invariants (8) capacity-held and (9) clients-recover: see dnsrace_lab.harness.checker.

(8) reads the load balancer's control: its `nlb_target_removed` events (each labelled with Network
Manager's view of the target's instance: networked, and since when) and its per-second `nlb_window`
figures. Broken by a removal of a target that had been networked for answering_grace_s or more (an
answering target taken out), by more than removal_cap_share of the targets removed within any
removal_window_s, or by a second with fewer than in_service_floor_share of them in service.

(9) reads the clients' per-second `client_window` figures against the moment the trigger was gone
((7)'s: leases_recover.dns_back; in the chaos campaign, the later of that and the end of its
propagation storm, which posts network state to Network Manager faster than it is worked). Broken by any second later than client_recovery_bound_s after it
whose success rate is below success_rate; held when every second from at most the bound after it to
the end is served, for at least SERVED_FOR_S; unknown when the history ends before that shows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dnsrace_lab.harness.checker.leases_recover import dns_back
from dnsrace_lab.harness.checker.verdict import PROPAGATION_STORM, UNKNOWN, Bounds, FaultWindow, Mark, Verdict

CAPACITY = "capacity-held"
CLIENTS = "clients-recover"
SERVED_FOR_S = 10.0     # (9): served this long in a row, at least, before the history ends


def lines_of(figures: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """One kind of per-second line, oldest first, each its detail with its time."""
    return sorted(({**(row.get("detail") or {}), "t": float(row["t"])} for row in figures if row.get("kind") == kind),
                  key=lambda line: line["t"])


def answering_removals(events: Sequence[dict[str, Any]], grace_s: float) -> list[dict[str, Any]]:
    """Removals of a target whose instance had been networked for at least grace_s."""
    out = []
    for e in events:
        if e.get("kind") != "nlb_target_removed":
            continue
        detail = e.get("detail") or {}
        since = detail.get("networked_at")
        if detail.get("networked") and since is not None and float(e["t"]) - float(since) >= grace_s:
            out.append(e)
    return out


def busiest_window(times: Sequence[float], window_s: float) -> tuple[int, float]:
    """The most removals within any window_s (and where that window starts)."""
    ordered = sorted(times)
    best, at, j = 0, 0.0, 0
    for i, start in enumerate(ordered):
        while j < len(ordered) and ordered[j] < start + window_s:
            j += 1
        if j - i > best:
            best, at = j - i, start
    return best, at


def check_capacity_held(events: Sequence[dict[str, Any]], figures: Sequence[dict[str, Any]],
                        bounds: Bounds) -> Verdict:
    windows = lines_of(figures, "nlb_window")
    if not windows:
        return Verdict(CAPACITY, UNKNOWN, ("no nlb_window figures in the history",))
    targets = max(int(line.get("targets") or 0) for line in windows)
    removals = [e for e in events if e.get("kind") == "nlb_target_removed"]
    answering = answering_removals(events, bounds.answering_grace_s)
    cap = max(1, math.floor(bounds.removal_cap_share * targets))
    most, most_at = busiest_window([float(e["t"]) for e in removals], bounds.removal_window_s)
    floor = math.ceil(bounds.in_service_floor_share * targets)
    lowest = min(windows, key=lambda line: int(line.get("in_service") or 0))
    measures = {"targets": targets, "removals": len(removals), "answering_removed": len(answering),
                "most_removed_in_window": most, "cap": cap, "lowest_in_service": lowest.get("in_service"),
                "floor": floor}
    broken, marks = [], []
    if answering:
        first = answering[0]
        names = sorted({str((e.get("detail") or {}).get("target")) for e in answering})
        broken.append(f"{len(answering)} removal(s) of answering targets ({', '.join(names)}), the first at "
                      f"{bounds.at(float(first['t']))}: {first['detail'].get('target')} "
                      f"({first['detail'].get('why')}), networked since "
                      f"{float(first['t']) - float(first['detail']['networked_at']):.1f} s before")
        marks += [Mark(float(e["t"]), f"(8) {e['detail'].get('target')} removed while answering") for e in answering[:5]]
    if most > cap:
        broken.append(f"{most} removed within {bounds.removal_window_s:g} s from {bounds.at(most_at)}: the cap is "
                      f"{cap} of {targets}")
        marks.append(Mark(most_at, f"(8) {most} removed in {bounds.removal_window_s:g} s",
                          until=most_at + bounds.removal_window_s))
    if int(lowest.get("in_service") or 0) < floor:
        broken.append(f"{lowest.get('in_service')} of {targets} in service at {bounds.at(lowest['t'])}: the floor "
                      f"is {floor}")
        marks.append(Mark(lowest["t"], f"(8) {lowest.get('in_service')} in service"))
    if broken:
        return Verdict(CAPACITY, False, tuple(broken), tuple(marks), measures)
    return Verdict(CAPACITY, True, (f"{len(removals)} removal(s), none of an answering target; at most {most} within "
                                    f"{bounds.removal_window_s:g} s (cap {cap}); never fewer than "
                                    f"{lowest.get('in_service')} of {targets} in service (floor {floor})",),
                   (), measures)


def trigger_gone(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow]) -> tuple[float | None, str]:
    """(9)'s moment: DNS back ((7)'s), or the end of a propagation storm when that came later."""
    back, how = dns_back(probes, windows)
    storms = [w.stop for w in windows if w.fault == PROPAGATION_STORM and w.stop is not None]
    if storms and (back is None or max(storms) > back):
        return max(storms), "the propagation storm stopped"
    return back, how


def check_clients_recover(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                          figures: Sequence[dict[str, Any]], bounds: Bounds) -> Verdict:
    bound = bounds.client_recovery_bound_s
    lines = [line for line in lines_of(figures, "client_window") if line.get("success_rate") is not None]
    back, how = trigger_gone(probes, windows)
    if bound is None or not lines or back is None:
        missing = ("no bound for it in the run line" if bound is None else
                   "no client_window figures in the history" if not lines else "no moment DNS came back")
        return Verdict(CLIENTS, UNKNOWN, (missing,))
    after = [line for line in lines if line["t"] >= back]
    bad = [line for line in after if float(line["success_rate"]) < bounds.success_rate]
    served_at = bad[-1]["t"] if bad else back     # from then on, every second served
    errors_after_back = sum(int(line.get("errors") or 0) for line in after)
    measures = {"dns_back_t": back, "seconds_after_dns_back": len(after), "seconds_below": len(bad),
                "recovery_s": round(served_at - back, 1),
                "worst_success_rate": min((float(line["success_rate"]) for line in after), default=None),
                "errors_after_dns_back": errors_after_back,
                "first_below_t": bad[0]["t"] if bad else None, "last_below_t": bad[-1]["t"] if bad else None}
    said = f"{how} at {bounds.at(back)}; bound {bound:g} s"
    marks: tuple[Mark, ...] = (Mark(back + bound, "(9) clients' bound"),)
    if bad:
        marks += (Mark(bad[0]["t"], "(9) clients failing", until=bad[-1]["t"]),)
    late = [line for line in bad if line["t"] > back + bound]
    if late:
        worst = min(late, key=lambda line: float(line["success_rate"]))
        return Verdict(CLIENTS, False, (said, f"{len(late)} seconds below {bounds.success_rate:.0%} after the bound, "
                                              f"from {bounds.at(late[0]['t'])} to {bounds.at(late[-1]['t'])}; the worst "
                                              f"{float(worst['success_rate']):.0%} at {bounds.at(worst['t'])} "
                                              f"(errors {worst.get('by_error')})"), marks, measures)
    if lines[-1]["t"] < served_at + SERVED_FOR_S:
        return Verdict(CLIENTS, UNKNOWN, (said, f"the history ends {lines[-1]['t'] - served_at:.1f} s after the last "
                                                f"second below {bounds.success_rate:.0%}, before {SERVED_FOR_S:g} s "
                                                "served in a row"), marks, measures)
    return Verdict(CLIENTS, True, (said, f"every second >= {bounds.success_rate:.0%} served from "
                                         f"{served_at - back:.1f} s after it to the end ({len(bad)} seconds below "
                                         f"before; {errors_after_back} errors in all)"), marks, measures)
