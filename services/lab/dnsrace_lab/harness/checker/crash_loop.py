"""Invariant (6) no-crash-loop: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dnsrace_lab.harness.checker.verdict import UNKNOWN, FaultWindow, Mark, Verdict
from dnsrace_lab.stack.names import ENACTORS


# (6) ----------------------------------------------------------------------------------------------------

def _crash_causes(crashes: Sequence[dict[str, Any]], unexplained: int) -> str:
    """What the enactor said it died of (exception at file:line), and how many deaths it never explained."""
    causes = sorted({f"{detail.get('exception')} at {detail.get('raised_at') or detail.get('protocol_at')}"
                     for detail in ((c.get("detail") or {}) for c in crashes)})
    said = f"; crashed with {', '.join(causes)}" if causes else ""
    silent = unexplained - len(crashes)
    return said + (f"; {silent} restart(s) with no crash event (a death from outside: SIGKILL, OOM?)"
                   if silent > 0 else "")


def check_no_crash_loop(events: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                        observations: Sequence[dict[str, Any]], enactors: Sequence[str] = ENACTORS) -> Verdict:
    counts = next((o["restart_counts"] for o in reversed(observations) if o.get("restart_counts") is not None), None)
    started = {name: sum(1 for e in events if e.get("service") == name and e.get("kind") == "enactor_started")
               for name in enactors}
    if counts is None and not any(started.values()):
        return Verdict("no-crash-loop", UNKNOWN, ("neither docker's restart counts nor any enactor_started event "
                                                  "is in the history",))
    problems, lines, marks = [], [], []
    measures: dict[str, Any] = {}
    for name in enactors:
        kills = sum(1 for w in windows if w.fault == "kill-enactor" and w.target == name)
        crashes = [e for e in events if e.get("service") == name and e.get("kind") == "enactor_crashed"]
        docker = int((counts or {}).get(name) or 0)
        restarts = max(docker, started[name] - 1 if started[name] else 0, len(crashes))
        measures[name] = {"restarts": restarts, "kills": kills, "crashes": len(crashes)}
        line = (f"{name}: {restarts} restart(s) (docker {docker}, {started[name]} start event(s), "
                f"{len(crashes)} crash(es)), {kills} kill(s) by the nemesis")
        lines.append(line)
        if restarts > kills:
            problems.append(line + _crash_causes(crashes, restarts - kills))
            marks += [Mark(float(c["t"]), f"(6) {name} crashed") for c in crashes[:6]]
    if problems:
        return Verdict("no-crash-loop", False, tuple(problems), tuple(marks), measures)
    return Verdict("no-crash-loop", True, tuple(lines), measures=measures)
