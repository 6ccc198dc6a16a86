"""The outage told from the history: a narrated timeline, and the source line that crashed.

The narration is rebuilt only from recorded events (never from what the scenario thinks it did), so
what it prints is what a responder could have read from the stream at the time.
"""

from __future__ import annotations


from dnsrace.events import Event
from dnsrace.plans import MalformedPlan, generation_of_plan_id, plan_id
from dnsrace.timeline import sentence

from dnsrace_lab.stack.live import TOP

# Routine bookkeeping that would drown the story; it stays in `make timeline`.
ROUTINE = {"lock_released", "record_set_written", "zone_rendered", "batch_accepted", "plan_skipped",
           "lock_refused", "backend_healthy", "enactor_started", "planner_started", "apply_finished"}


def _generation(plan: str | None) -> int | None:
    try:
        return generation_of_plan_id(plan) if plan else None
    except MalformedPlan:
        return None


# Safe mode's ordinary optimistic concurrency: a lock's loser finds the zone moved and says so.
CONTENTION = {"write_refused", "batch_rejected", "endpoint_unchanged"}


def narrate(events: list[Event], *, focus: list[str], outage_plan: str | None) -> list[str]:
    """One line per event worth reading, `+12.345s enactor-a  sentence`, time from the first event.

    `focus` names the enactors the scenario aims its faults at: their every decision is shown (and
    dns-admin's answers to them); for the others only what moves the story."""
    if not events:
        return ["(no events)"]
    start = events[0].t
    newest = 0
    lines = []
    for event in events:
        if event.kind == "plan_created":
            newest = max(newest, _generation(event.plan) or 0)
        text = sentence(event)
        in_focus = (event.service == "lab" or event.service in focus or event.plan == outage_plan
                    or event.detail.get("client") in (*focus, "operator"))
        # dns-admin's echo of an accepted batch repeats what the enactor itself reports; its refusals do not.
        if event.kind in ROUTINE and not (event.service == "lab" or event.service in focus):
            continue
        if event.kind in CONTENTION and not in_focus:
            continue
        if event.kind in ("check_passed", "lock_acquired") and not in_focus:
            continue
        if event.kind == "cleanup_deleted" and event.plan != outage_plan:
            continue
        if event.kind == "endpoint_pointed":
            generation = _generation(event.plan) or 0
            if newest > generation:
                text += f" — newest is {plan_id(newest)}"
        lines.append(f"+{event.t - start:8.3f}s  {event.service:<10} {text}")
    return _collapse(lines)


def _collapse(lines: list[str]) -> list[str]:
    """Runs of plan publications become one line each side of the interesting events."""
    out: list[str] = []
    run: list[str] = []
    for line in lines:
        if " published plan-" in line:
            run.append(line)
            continue
        out.extend(_flush(run))
        run = []
        out.append(line)
    out.extend(_flush(run))
    return out


def _flush(run: list[str]) -> list[str]:
    if len(run) <= 3:
        return run
    return [run[0], f"{'':13}(… {len(run) - 2} more plans published …)", run[-1]]


def source_excerpt(location: str, *, context: int = 6, after: int = 2) -> list[str]:
    """`services/enactor/dnsrace_enactor/legacy.py:47` -> numbered source lines around line 47."""
    path_text, _, line_text = location.rpartition(":")
    path = (TOP / path_text).resolve()
    if not line_text.isdigit() or TOP not in path.parents or not path.is_file():
        return [f"(source not found for {location})"]
    line = int(line_text)
    source = path.read_text().splitlines()
    first, last = max(1, line - context), min(len(source), line + after)
    return [f"{'>>' if n == line else '  '} {n:4d} | {source[n - 1]}" for n in range(first, last + 1)]
