"""A counterexample as the timeline's own sentences, and its batches replayed through dns-admin's rules.

`spin -t` replays a trail; every step that emits an event prints it (`@@E me kind a b c`, a batch as
`@@C act name value` lines then `@@B me error index count`). Here those lines become the same Event
objects the services emit, so dnsrace.timeline.sentence words them exactly as `make timeline` does.

Each batch of the trail is also applied with dns-admin's own rules (dnsrace.batch_rules) to a zone
replayed alongside: the outcome must be the model's. A difference means the model's batch rules have
drifted from dns-admin's, and the trail says where.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from dnsrace.events import Event
from dnsrace.plans import plan_id, plan_record_name, rollback_record_name
from dnsrace.records import Action, ARecord, Change, ChangeConflict, RecordSet
from dnsrace.timeline import sentence
from dnsrace.batch_rules import RecordKey, apply_changes
from dnsrace.zone_history import event_changes

from . import codes

__all__ = ["ENDPOINT", "Step", "parse", "render", "replay_batches", "story"]

ENDPOINT = "dynamodb.us-east-1.lab.test"
SERVICES = {0: "planner", 1: "enactor-a", 2: "enactor-b", 3: "enactor-c", 4: "operator"}
ACTION_NAMES: dict[int, Action] = {v: cast(Action, k) for k, v in codes.ACTIONS.items()}
PLAN_ADDRESS = "192.0.2.1"   # the model has no addresses: every plan's record set holds this one


@dataclass(frozen=True)
class Step:
    """One event of the trail, and the batch it stands for (batch events only)."""

    event: Event
    changes: tuple[Change, ...] = ()
    outcome: tuple[str, int] | None = None      # the model's (error name or "OK", change index)


def _plan(gen: int) -> str | None:
    return plan_id(gen) if gen > 0 else None


def _record_set(name_code: int, value: int) -> RecordSet:
    if name_code == codes.NAMES["plan"]:
        return RecordSet.a(plan_record_name(plan_id(value), ENDPOINT), 1, [ARecord(PLAN_ADDRESS, 1)])
    name = ENDPOINT if name_code == codes.NAMES["endpoint"] else rollback_record_name(ENDPOINT)
    return RecordSet.alias(name, plan_record_name(plan_id(value), ENDPOINT))


class _Story:
    """What the words need that the model does not carry: tokens, change ids, what was cleaned."""

    def __init__(self, keep_generations: int, mode: str) -> None:
        self.keep, self.mode = keep_generations, mode
        self.token = 0
        self.tokens: dict[int, int] = {}
        self.change = 0
        self.cleaned: dict[int, list[str]] = {}
        self.last_error: dict[int, str] = {}
        self.last_code: dict[int, str] = {}


def _event(story: _Story, step: int, me: int, kind: str, a: int, b: int, c: int) -> Event:
    service, plan = SERVICES.get(me, f"process-{me}"), _plan(a)
    detail: dict[str, object] = {}
    token = None
    if kind == "plan_created":
        detail = {"generation": a, "reason": "tick", "targets": ["the healthy backends"]}
    elif kind in ("check_passed", "plan_skipped"):
        detail = {"endpoint": ENDPOINT, "live": _plan(b), **({"restoring": True} if c else {})}
        story.cleaned[me] = []
    elif kind == "lock_acquired":
        story.token += 1
        story.tokens[me] = token = story.token
        detail = {"endpoint": ENDPOINT, "attempt": b}
    elif kind == "lock_refused":
        detail = {"endpoint": ENDPOINT, "held_by": f"{SERVICES.get(b, '?')}:{story.tokens.get(b, '?')}",
                  "attempt": c, "retry_in_ms": "a backoff of"}
    elif kind == "lock_gave_up":
        detail = {"attempts": "its"}
    elif kind in ("lock_released", "lock_expired_before_release"):
        token = story.tokens.get(me)
    elif kind == "record_set_written":
        detail = {"name": plan_record_name(plan or "?", ENDPOINT), "addresses": ["the plan's backends"]}
    elif kind == "endpoint_pointed":
        detail = {"endpoint": ENDPOINT, "rollback": _plan(b), "change_id": f"change-{story.change:06d}"}
    elif kind == "endpoint_unchanged":
        detail = {"endpoint": ENDPOINT, "why": "already points at it"}
    elif kind == "rollback_emptied":
        detail = {"previous": _plan(b), "why": f"{_plan(b)} no longer exists"}
    elif kind in ("cleanup_spared", "cleanup_deleted", "cleanup_already_gone"):
        detail = {"after": _plan(b), "keep_generations": story.keep, "why": "it is referenced"}
        if kind == "cleanup_deleted":
            story.cleaned.setdefault(me, []).append(plan or "?")
    elif kind == "apply_finished":
        detail = {"cleaned": story.cleaned.pop(me, [])}
    elif kind in ("write_refused", "apply_gave_up"):
        detail = {"error": f"{story.last_code.get(me, '?')}: {story.last_error.get(me, '?')}", "failures": b or "a",
                  "retry_in_ms": "a backoff of"}
    elif kind == "endpoint_empty_found":
        detail = {"endpoint": ENDPOINT, "rcode": "NOERROR", "newest": _plan(b),
                  "why": f"{plan_record_name(plan, ENDPOINT)} does not exist" if plan else f"{ENDPOINT} has no alias"}
    elif kind == "self_check_answering":
        detail = {"endpoint": ENDPOINT, "addresses": ["the plan's backends"]}
    elif kind == "enactor_crashed":
        detail = {"exception": codes.ERROR_OF.get(a, "?"), "message": story.last_error.get(me, "?"),
                  "protocol_at": "services/enactor/dnsrace_enactor/legacy.py (on_error: raise error)",
                  "raised_at": "the dns-admin client"}
    elif kind == "enactor_started":
        detail = {"mode": story.mode, "keep_generations": story.keep}
    return Event(t=float(step), service=service, kind=kind, plan=plan, token=token, detail=detail, seq=step)


def parse(lines: Iterable[str], *, keep_generations: int, mode: str) -> list[Step]:
    """The @@ lines of `spin -t` as Steps (the events the code would have emitted)."""
    story = _Story(keep_generations, mode)
    steps: list[Step] = []
    pending: list[tuple[int, int, int]] = []
    for line in lines:
        words = line.split()
        if not words or not words[0].startswith("@@"):
            continue
        numbers = [int(w) for w in words[1:]]
        if words[0] == "@@C":
            pending.append((numbers[0], numbers[1], numbers[2]))
        elif words[0] == "@@B":
            me, error, index, _count = numbers
            changes = tuple(Change(ACTION_NAMES[act], _record_set(name, value)) for act, name, value in pending)
            pending = []
            steps.append(_batch_step(story, len(steps) + 1, me, changes, error, index))
        elif words[0] == "@@E":
            me, kind, a, b, c = numbers
            steps.append(Step(_event(story, len(steps) + 1, me, codes.KIND_OF.get(kind, f"kind-{kind}"), a, b, c)))
    return steps


def _batch_step(story: _Story, number: int, me: int, changes: tuple[Change, ...], error: int,
                index: int) -> Step:
    client = SERVICES.get(me, "operator")
    outcome = (codes.ERROR_OF.get(error, "?"), index)
    if error == codes.ERRORS["OK"]:
        story.change += 1
        detail = {"change_id": f"change-{story.change:06d}", "client": client, **event_changes(changes)}
        event = Event(float(number), "dns-admin", "batch_accepted", None, None, detail, number)
    else:
        failing = changes[index] if 0 <= index < len(changes) else None
        message = f"change {index}: {failing.describe() if failing else '?'}"
        story.last_error[me] = message
        story.last_code[me] = outcome[0]
        event = Event(float(number), "dns-admin", "batch_rejected", None, None,
                      {"client": client, "error": outcome[0], "message": message, "change_index": index,
                       "change": failing.to_json() if failing else None}, number)
    return Step(event, changes, outcome)


def replay_batches(steps: Sequence[Step], start: dict[RecordKey, RecordSet]) -> list[str]:
    """Apply every batch of the trail with dns-admin's rules; the disagreements with the model."""
    zone = dict(start)
    disagreements = []
    for step in steps:
        if step.outcome is None:
            continue
        try:
            zone = apply_changes(zone, step.changes)
            actual = ("OK", 0)
        except ChangeConflict as conflict:
            actual = (conflict.code, conflict.change_index if conflict.change_index is not None else -1)
        expected = step.outcome if step.outcome[0] != "OK" else ("OK", 0)
        if actual != expected:
            disagreements.append(f"step {step.event.seq}: the model says {expected}, dns-admin's rules say {actual} "
                                 f"for {'; '.join(c.describe() for c in step.changes)}")
    return disagreements


def start_zone(*, plan_applied: bool) -> dict[RecordKey, RecordSet]:
    """The zone a search starts from: empty, or plan 1 live (START_APPLIED)."""
    if not plan_applied:
        return {}
    plan = _record_set(codes.NAMES["plan"], 1)
    endpoint = _record_set(codes.NAMES["endpoint"], 1)
    return {plan.key: plan, endpoint.key: endpoint}


def render(events: Sequence[Event]) -> list[str]:
    """`  12. enactor-a  pointed dynamodb… at plan-000001 (rollback -> plan-000003), change-000007`"""
    width = len(str(len(events)))
    return [f"  {n:>{width}}. {e.service:<10} {sentence(e)}" for n, e in enumerate(events, 1)]


# The incident's moments, found in any list of events (the model's trail or a live run's).
MOMENTS = ("the slow enactor checks the plan it will write late", "the endpoint goes back to that plan",
           "a cleanup deletes it, live", "the rollback change is refused", "an enactor crashes")


def story(events: Sequence[Event]) -> dict[str, int]:
    """Index of each moment: told backwards from the first cleanup that deleted the live plan."""
    live: str | None = None
    made_live: dict[str, int] = {}
    for index, event in enumerate(events):
        if event.kind == "endpoint_pointed" and event.plan:
            live = event.plan
            made_live[event.plan] = index
        if event.kind == "cleanup_deleted" and event.plan is not None and event.plan == live:
            back = made_live[event.plan]
            found = {MOMENTS[1]: back, MOMENTS[2]: index}
            slow = events[back].service
            checks = [i for i in range(back) if events[i].kind == "check_passed" and events[i].service == slow
                      and events[i].plan == event.plan]
            if checks:
                found[MOMENTS[0]] = checks[-1]
            for later in range(index + 1, len(events)):
                after = events[later]
                if (MOMENTS[3] not in found and after.kind == "batch_rejected"
                        and after.detail.get("error") == "AliasTargetMissing" and after.detail.get("change_index") == 1):
                    found[MOMENTS[3]] = later
                if MOMENTS[4] not in found and after.kind == "enactor_crashed":
                    found[MOMENTS[4]] = later
            return found
    return {}
