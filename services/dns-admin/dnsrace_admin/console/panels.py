"""The console's tables, from the same events as the alert (pure):

    enactor_rows(events, now_t, remembered)   each enactor: mode, heartbeat, last plan applied, crashes,
                                              restarts, the last exception with file:line, and its state
    plan_rows(events, now, limit)             each plan: readable id, generation, created, applied by whom
                                              and when, deleted by whom and when, and where the zone has it
    timeline_rows(events, ...)                the events as the timeline's sentences, filtered by service and
                                              plan, the alert's causal chain marked
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dnsrace.events import Event
from dnsrace.plans import MalformedPlan, generation_of_plan_id, generation_of_record_name, plan_id
from dnsrace.timeline import one_line, sentence
from dnsrace.zone_history import batches_from_events

from .now import Now

__all__ = ["ENACTOR_KINDS", "EnactorRow", "enactor_rows", "plan_rows", "timeline_rows"]

# An enactor is a service that emits what only the apply loop emits.
ENACTOR_KINDS = frozenset({"enactor_started", "enactor_stopped", "enactor_crashed", "check_passed", "plan_skipped",
                           "lock_acquired", "lock_refused", "endpoint_pointed", "apply_finished", "enactor_frozen"})
PROGRESS_KINDS = frozenset({"plan_skipped", "endpoint_pointed", "apply_finished", "endpoint_unchanged"})
SILENT_S = 10.0       # an enactor's loop emits at least once per plan (every 2 s): silent past this, it is stuck
CRASH_LOOP_COUNT = 2  # crashed at least this often since it last applied a plan


@dataclass(frozen=True)
class EnactorRow:
    service: str
    mode: str | None
    state: str                      # running | crash-looping | crashed | frozen | stopped | silent
    last_seen: float | None         # its newest event: the heartbeat
    last_applied: str | None
    last_applied_t: float | None
    last_change_id: str | None
    crashes: int
    restarts: int
    last_exception: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def enactor_rows(events: Sequence[Event], now_t: float,
                 remembered: Mapping[str, Event] | None = None) -> list[EnactorRow]:
    """`remembered`: each enactor's last enactor_started, kept past the window (its mode, for a quiet one)."""
    remembered = remembered or {}
    timeline = sorted(events, key=lambda e: (e.t, e.seq or 0))
    services = sorted({e.service for e in timeline if e.kind in ENACTOR_KINDS} | set(remembered))
    rows = []
    for service in services:
        mine = [e for e in timeline if e.service == service]
        starts = [e for e in mine if e.kind == "enactor_started"]
        crashes = [e for e in mine if e.kind == "enactor_crashed"]
        applied = [e for e in mine if e.kind == "endpoint_pointed"]
        started = starts[-1] if starts else remembered.get(service)
        # Restarts: every start but the first, when the window begins with it.
        restarts = len(starts) - (1 if mine and mine[0].kind == "enactor_started" else 0)
        last = mine[-1] if mine else None
        since_applied = [c for c in crashes if not applied or c.t > applied[-1].t]
        # Working since its last start: it got past the point where a crash-looping enactor dies.
        working = any(e.kind in PROGRESS_KINDS for e in mine if started is not None and e.t >= started.t)
        frozen = [e for e in mine if e.kind in ("enactor_frozen", "enactor_unfrozen", "enactor_started")]
        if last is None:
            state = "silent"
        elif last.kind == "enactor_stopped":
            state = "stopped"
        elif len(since_applied) >= CRASH_LOOP_COUNT and not working:
            state = "crash-looping"
        elif last.kind == "enactor_crashed":
            state = "crashed"
        elif frozen and frozen[-1].kind == "enactor_frozen":
            state = "frozen"
        elif now_t - last.t > SILENT_S:
            state = "silent"
        else:
            state = "running"
        exception = None
        if crashes:
            detail = crashes[-1].detail
            exception = {"t": crashes[-1].t, "seq": crashes[-1].seq, "exception": one_line(str(detail.get("exception")), 80),
                         "message": one_line(str(detail.get("message") or ""), 300),
                         "at": one_line(str(detail.get("protocol_at") or detail.get("raised_at") or "?"), 160)}
        rows.append(EnactorRow(
            service=service, mode=str(started.detail.get("mode")) if started is not None else None, state=state,
            last_seen=last.t if last else None, last_applied=applied[-1].plan if applied else None,
            last_applied_t=applied[-1].t if applied else None,
            last_change_id=str(applied[-1].detail.get("change_id")) if applied else None,
            crashes=len(crashes), restarts=max(0, restarts), last_exception=exception))
    return rows


def plan_rows(events: Sequence[Event], now: Now, *, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` plans the events or the zone name, newest first."""
    plans: dict[int, dict[str, Any]] = {}

    def row(generation: int) -> dict[str, Any]:
        return plans.setdefault(generation, {
            "plan": plan_id(generation), "generation": generation, "created": now.created.get(generation),
            "reason": None, "targets": [], "applied_by": None, "applied_at": None, "applied_change_id": None,
            "deleted_by": None, "deleted_at": None, "deleted_how": None})

    for event in sorted(events, key=lambda e: (e.t, e.seq or 0)):
        generation = _generation_of_plan(event.plan)
        if generation is None:
            continue
        if event.kind == "plan_created":
            entry = row(generation)
            entry.update(created=event.t, reason=event.detail.get("reason"),
                         targets=[one_line(str(t), 80) for t in event.detail.get("targets") or []][:20])
        elif event.kind == "endpoint_pointed" and row(generation)["applied_by"] is None:
            plans[generation].update(applied_by=event.service, applied_at=event.t,
                                     applied_change_id=event.detail.get("change_id"))
    for batch in batches_from_events(events):
        for change in batch.changes:
            generation = generation_of_record_name(change.name, now.endpoint) if change.type == "A" else None
            if generation is not None and change.action == "DELETE":
                row(generation).update(deleted_by=batch.client or "?", deleted_at=batch.t,
                                       deleted_how=one_line(batch.comment, 120) or batch.change_id)
    for generation in now.plan_generations:
        row(generation)
    live, rollback = now.generation(now.endpoint_target), now.generation(now.rollback_target)
    existing = set(now.plan_generations)
    for generation, entry in plans.items():
        entry.update(exists=generation in existing, live=generation == live, rollback=generation == rollback)
        if entry["exists"]:
            entry.update(deleted_by=None, deleted_at=None, deleted_how=None)   # written again since
    newest = sorted(plans, reverse=True)[:limit]
    # The plans the zone points at are always shown, however old: the outage's plan is usually one of them.
    pinned = [g for g in (live, rollback) if g is not None and g in plans and g not in newest]
    return [plans[g] for g in sorted([*newest, *pinned], reverse=True)]


def _generation_of_plan(plan: str | None) -> int | None:
    if not plan:
        return None
    try:
        return generation_of_plan_id(plan)
    except MalformedPlan:
        return None


def timeline_rows(events: Sequence[Event], *, service: str | None = None, plan: str | None = None,
                  limit: int, chain: Collection[int] = ()) -> dict[str, Any]:
    """The newest `limit` events that match, oldest first, each as the timeline's sentence."""
    timeline = sorted(events, key=lambda e: (e.t, e.seq or 0))
    matching = [e for e in timeline if (service is None or e.service == service)
                and (plan is None or e.plan == plan or plan in e.detail.get("cleaned", ()))]
    shown = matching[-limit:]
    chain_set = set(chain)
    return {
        "events": [{"seq": e.seq, "t": e.t, "service": one_line(e.service, 40), "kind": one_line(e.kind, 40),
                    "plan": one_line(e.plan, 40) if e.plan else None, "sentence": sentence(e),
                    "chain": e.seq in chain_set} for e in shown],
        "matching": len(matching), "kept": len(timeline),
        "services": sorted({one_line(e.service, 40) for e in timeline}),
    }
