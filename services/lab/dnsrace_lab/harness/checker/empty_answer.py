"""Invariant (1) no-empty-answer: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dnsrace_lab.harness.checker.verdict import (UNKNOWN, Bounds, completions, empty_windows, FaultWindow, Mark,
                                                 Valid, Verdict)



# (1) ----------------------------------------------------------------------------------------------------

def deletion_excuses(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                     bounds: Bounds, view: str = "resolver") -> list[tuple[float, float]]:
    """When an empty answer is the deletion's own doing, not the system's: from the deletion until the
    authoritative view answered again (at most repair_bound_s), plus the slack of CoreDNS's reload and
    the positive TTL, plus, for the resolver, the negative-cache TTL it may keep the empty answer for."""
    cache_s = bounds.negative_ttl_s if view == "resolver" else 0.0
    return [(start, back + cache_s + bounds.answer_slack_s) for start, back in repairs(probes, windows, bounds)]


def repairs(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
            bounds: Bounds) -> list[tuple[float, float]]:
    """(deletion, when the authoritative view answered again, at most repair_bound_s later) per deletion."""
    authoritative = completions(probes, "authoritative")
    found = []
    for deletion in (w for w in windows if w.fault == "delete-live-plan"):
        back = deletion.start
        seen_empty = False
        for op in authoritative:
            if op["t"] < deletion.start:
                continue
            if op["type"] == "fail":
                seen_empty = True
            elif op["type"] == "ok" and seen_empty:
                back = float(op["t"])
                break
        else:
            back = deletion.start + bounds.repair_bound_s if seen_empty else deletion.start
        found.append((deletion.start, min(back, deletion.start + bounds.repair_bound_s)))
    return found


def check_no_empty_answer(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                          bounds: Bounds) -> Verdict:
    """Each view of bounds.views (the resolver; a scenario may add the authoritative view) judged alone;
    the verdict is the worst of them, its evidence theirs in order."""
    judged = [_no_empty_answer(probes, windows, bounds, view) for view in bounds.views]
    if len(judged) == 1:
        return judged[0]
    valid: Valid = False if any(v.valid is False for v in judged) else (
        UNKNOWN if any(v.valid == UNKNOWN for v in judged) else True)
    return Verdict("no-empty-answer", valid, tuple(line for v in judged for line in v.evidence),
                   tuple(mark for v in judged for mark in v.marks),
                   {**judged[0].measures, **{view: v.measures for view, v in zip(bounds.views[1:], judged[1:])}})


def _no_empty_answer(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow], bounds: Bounds,
                     view: str) -> Verdict:
    name = "the resolver" if view == "resolver" else f"the {view} view"
    answers = completions(probes, view)
    first_ok = next((op for op in answers if op["type"] == "ok"), None)
    if first_ok is None:
        return Verdict("no-empty-answer", UNKNOWN, (f"{name} never answered with addresses: no plan was "
                                                    f"seen live ({len(answers)} completions)",))
    live_from = float(first_ok["t"])
    excuses = deletion_excuses(probes, windows, bounds, view)
    after = [op for op in answers if op["t"] >= live_from]
    every = empty_windows(after, view)
    unexcused_ops = [op for op in after if op["type"] == "fail"
                     and not any(start <= op["t"] <= end for start, end in excuses)]
    # Windows of unexcused empties: the same runs, where an excused empty, like `info`, neither opens nor closes one.
    counted = {id(op) for op in unexcused_ops}
    unexcused = empty_windows([op for op in after if op["type"] != "fail" or id(op) in counted], view)
    longest = max((w.seconds for w in every), default=0.0)
    measures: dict[str, Any] = {
        "empty_answers": sum(w.probes for w in every), "longest_empty_s": round(longest, 3),
        "excused_empty_answers": sum(w.probes for w in every) - len(unexcused_ops),
        "timeouts": sum(1 for op in after if op["type"] == "info"), "answers": len(after)}
    if view == "authoritative":
        found = repairs(probes, windows, bounds)
        measures["repaired_s"] = [round(back - start, 3) for start, back in found]
        excuse_text = "".join(f"; the deletion at {bounds.at(start)} was repaired {back - start:.1f} s later (the "
                              f"authoritative view answered again; bound {bounds.repair_bound_s:g} s)"
                              for start, back in found)
    else:
        excuse_text = "".join(f"; the deletion at {bounds.at(start)} excuses empty answers until {bounds.at(end)}"
                              for start, end in excuses)
    if not unexcused:
        return Verdict("no-empty-answer", True, (
            f"{len(after)} {view} answers since the first plan was live, none empty beyond what a deletion "
            f"excuses ({measures['excused_empty_answers']} excused, {measures['timeouts']} timeouts, never counted)"
            + excuse_text,), measures=measures)
    evidence = [f"{name} answered EMPTY {len(unexcused_ops)} times in {len(unexcused)} window(s), "
                f"the longest {max(w.seconds for w in unexcused):.1f} s" + ("" if unexcused[-1].closed else
                                                                             ", the last one never closed")
                + excuse_text]
    for window in unexcused[:5]:
        rcode = next((op.get("rcode") for op in unexcused_ops if op["t"] == window.start), "?")
        evidence.append(f"empty ({rcode}) from {bounds.at(window.start)} to {bounds.at(window.end)} "
                        f"({window.probes} answers)")
    label = "(1) empty" if view == "resolver" else f"(1) {view} empty"
    marks = tuple(Mark(w.start, f"{label} {w.seconds:.1f} s", w.end) for w in unexcused)
    return Verdict("no-empty-answer", False, tuple(evidence), marks, measures)
