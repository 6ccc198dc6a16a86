"""The zone's history as dns-admin applied it: its accepted batches replayed in order, with each record set's value.

Every reader of that history asks it here, in one place: the chaos campaign's checker
(dnsrace_lab.harness.checker), which replays dns-admin's audit after a run; the responder's console
(dnsrace_admin.console), which replays dns-admin's `batch_accepted` events while it happens; and the
trace check (dnsrace_model.trace), which reads the same events' changes. Both sources hold a change in
one shape, the one `Change.to_json()` writes (dnsrace.records):

    {"action": "UPSERT", "record_set": {"name": "dynamodb.us-east-1.lab.test", "type": "ALIAS",
                                        "target": "plan-000014.dynamodb.us-east-1.lab.test"}}
    {"action": "DELETE", "record_set": {"name": "plan-000004.dynamodb.us-east-1.lab.test", "type": "A", "ttl": 1,
                                        "records": [{"address": "172.23.0.3", "weight": 10}, ...]}}

An audit row keeps its batch as the client sent it (`batch.changes`); dns-admin's `batch_accepted` event
carries the changes as dns-admin read them (`changes`, written by `event_changes`, with `described`, their
text for the timeline, which nothing reads back), and its `batch_rejected` event the change that failed
(`change`, null when it names none). Either way a batch becomes a `Batch` of `SetChange`s:

    event_changes(changes)               what dns-admin's batch_accepted event says of its changes
    changes_of(event)                    a batch_accepted event's changes
    failing_change_of(event)             the change a batch_rejected event names as the one that failed
    batches_from_audit(rows)             the accepted audit rows, in dns-admin's order
    batches_from_events(events)          dns-admin's batch_accepted events, in dns-admin's order
    replay(batches, complete=...)        (batch, zone before, zone after) for each batch
    zone_at(steps, t)                    the zone after the last batch applied by time t
    alias_of(zone, name)                 what a name aliases
    exists(zone, name, type, complete=)  whether a record set is there (True, False, or None: unknown)
    record_set_value(record_set)         a record set's value (JSON, as the audit or dns-admin's listing
                                         writes it), as a zone keeps it
    listed_zone(record_sets)             dns-admin's listed record sets as a zone, to compare with a replay
    endpoint_moves(steps, endpoint)      every batch that left the endpoint aliasing another name
    backward_moves(moves)                the moves to an older generation than the one before
    referenced_deletions(steps, endpoint)  plans deleted while the endpoint or the rollback record aliased them

A zone maps (name, type) to its value, a `SetValue` (an ALIAS's target, or an A set's records as
(address, weight)), or to None when the set is known to be absent. An audit replayed from its first row
is `complete`: a name never written is absent. A window of events is not: it starts in a zone it never
saw, so a name it has not seen written is unknown (missing from the mapping), neither there nor absent;
an accepted DELETE still proves the set existed, and an accepted CREATE that it did not.

Errors (events recorded before dns-admin's events carried structured changes held them as text; such a
history is refused, never replayed by guesswork):

    ValueError
     └── UnstructuredChanges
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import Event
from .plans import generation_of_record_name, rollback_record_name
from .records import Change

__all__ = ["Batch", "Deletion", "Move", "SetChange", "SetValue", "Step", "UnstructuredChanges", "Zone", "alias_of",
           "backward_moves", "batches_from_audit", "batches_from_events", "changes_of", "endpoint_moves",
           "event_changes", "exists", "failing_change_of", "listed_zone", "record_name", "record_set_value",
           "referenced_deletions", "replay", "zone_at"]

_CHANGE_NUMBER = re.compile(r"change-([0-9]{1,12})")


class UnstructuredChanges(ValueError):
    """A batch event that holds its changes as text: recorded before dns-admin's events were structured."""


@dataclass(frozen=True)
class SetValue:
    """What a record set holds: an ALIAS's target, or an A set's (address, weight) records, sorted.
    The ttl is left out: no reader asks it, and the checker compares dns-admin's listing without it."""

    target: str | None = None
    records: tuple[tuple[str, int], ...] = ()


Zone = dict[tuple[str, str], "SetValue | None"]


@dataclass(frozen=True)
class SetChange:
    action: str            # CREATE | DELETE | UPSERT
    type: str              # A | ALIAS
    name: str
    value: SetValue        # what it writes; for a DELETE, the value it named (dns-admin deletes only that one)

    @property
    def target(self) -> str | None:
        return self.value.target


@dataclass(frozen=True)
class Batch:
    order: int             # dns-admin's order: its change number (the audit's row number for the checker)
    t: float
    change_id: str
    client: str
    comment: str
    changes: tuple[SetChange, ...]
    seq: int | None = None  # the event's seq, when the batch was read from the stream


@dataclass(frozen=True)
class Step:
    batch: Batch
    before: Zone
    after: Zone


@dataclass(frozen=True)
class Move:
    t: float
    change_id: str
    client: str
    before: int | None    # generation aliased before the batch (None: no alias, unknown, or not a plan)
    after: int | None
    seq: int | None = None

    @property
    def backwards(self) -> bool:
        return self.before is not None and self.after is not None and self.after < self.before


@dataclass(frozen=True)
class Deletion:
    step: Step
    name: str              # the plan record set deleted
    reference: str         # "the endpoint" or "the rollback record"


def record_name(text: Any) -> str:
    """A name as a zone keys it: lower case, without the trailing dot (a client may send either)."""
    return str(text or "").rstrip(".").lower()


def record_set_value(record_set: Mapping[str, Any]) -> SetValue:
    target = record_set.get("target")
    records = sorted((str(record.get("address")), int(record.get("weight") or 0))
                     for record in record_set.get("records") or [])
    return SetValue(record_name(target) if target else None, tuple(records))


def _set_change(change: Mapping[str, Any]) -> SetChange:
    record_set = change.get("record_set") or {}
    return SetChange(str(change.get("action")), str(record_set.get("type")), record_name(record_set.get("name")),
                     record_set_value(record_set))


# --- dns-admin's batch events -------------------------------------------------------------------------

def event_changes(changes: Sequence[Change]) -> dict[str, Any]:
    """The part of dns-admin's batch_accepted event that says what the batch changed."""
    return {"changes": [change.to_json() for change in changes],
            "described": [change.describe() for change in changes]}


def _unstructured(event: Event) -> UnstructuredChanges:
    seq = event.seq if event.seq is not None else "?"
    return UnstructuredChanges(
        f"event #{seq} ({event.service} {event.kind}) holds its changes as text: this history was recorded before "
        f"dns-admin's events carried structured changes, and cannot be replayed (record the run again)")


def changes_of(event: Event) -> tuple[SetChange, ...]:
    """A batch_accepted event's changes, in the batch's order."""
    raw = event.detail.get("changes")
    if not isinstance(raw, list):
        raise ValueError(f"event #{event.seq} ({event.kind}): its changes are not a list")
    if any(isinstance(change, str) for change in raw):
        raise _unstructured(event)
    if not all(isinstance(change, Mapping) for change in raw):
        raise ValueError(f"event #{event.seq} ({event.kind}): a change that is not an object")
    return tuple(_set_change(change) for change in raw)


def failing_change_of(event: Event) -> SetChange | None:
    """The change a batch_rejected event names as the one that failed; None when it names none (a batch
    refused whole, or one dns-admin could not read)."""
    if "change" not in event.detail:
        raise _unstructured(event)
    raw = event.detail["change"]
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ValueError(f"event #{event.seq} ({event.kind}): its failing change is not an object")
    return _set_change(raw)


# --- batches and their replay -------------------------------------------------------------------------

def batches_from_audit(audit: Iterable[Mapping[str, Any]]) -> list[Batch]:
    """The accepted rows of dns-admin's audit, in the order it applied them (its row number)."""
    batches = []
    for row in sorted((r for r in audit if r.get("outcome") == "accepted"), key=lambda r: int(r.get("seq") or 0)):
        changes = tuple(_set_change(change) for change in (row.get("batch") or {}).get("changes", []))
        batches.append(Batch(int(row.get("seq") or 0), float(row.get("t") or 0.0), str(row.get("change_id")),
                             str(row.get("client") or ""), str(row.get("comment") or ""), changes))
    return batches


def batches_from_events(events: Iterable[Event]) -> list[Batch]:
    """dns-admin's `batch_accepted` events as batches, in its order (the change number): events are
    written by decision time, and a batch is only ever accepted by dns-admin, so its order is exact.
    UnstructuredChanges: an event recorded before its changes were structured."""
    batches = []
    for event in events:
        if event.service != "dns-admin" or event.kind != "batch_accepted":
            continue
        change_id = str(event.detail.get("change_id") or "")
        number = _CHANGE_NUMBER.fullmatch(change_id)
        if number is None or not isinstance(event.detail.get("changes"), list):
            continue   # not one dns-admin wrote: nothing to replay
        batches.append(Batch(int(number.group(1)), event.t, change_id, str(event.detail.get("client") or ""),
                             str(event.detail.get("comment") or ""), changes_of(event), event.seq))
    return sorted(batches, key=lambda batch: batch.order)


def replay(batches: Sequence[Batch], *, complete: bool) -> list[Step]:
    """(batch, zone before, zone after) for each batch. `complete`: the batches start from the empty zone."""
    zone: Zone = {}
    steps: list[Step] = []
    for batch in batches:
        before = steps[-1].after if steps else {}     # the zone after the previous batch: shared, never changed
        for change in batch.changes:
            zone[(change.name, change.type)] = None if change.action == "DELETE" else change.value
        if complete:
            zone = {key: value for key, value in zone.items() if value is not None}
        steps.append(Step(batch, before, dict(zone)))
    return steps


def zone_at(steps: Sequence[Step], t: float) -> Zone:
    """The zone after the last batch dns-admin applied by `t` (the empty zone before the first)."""
    zone: Zone = {}
    for step in steps:
        if step.batch.t > t:
            break
        zone = step.after
    return zone


def alias_of(zone: Zone, name: str) -> str | None:
    """What `name` aliases in `zone`; None when it aliases nothing (or that is not known)."""
    value = zone.get((record_name(name), "ALIAS"))
    return (value.target or None) if value is not None else None


def exists(zone: Zone, name: str, type_: str = "A", *, complete: bool) -> bool | None:
    """True, False, or None (unknown: a window that never saw the set written)."""
    key = (record_name(name), type_)
    if key not in zone:
        return False if complete else None
    return zone[key] is not None


def listed_zone(record_sets: Iterable[Mapping[str, Any]]) -> Zone:
    """dns-admin's listing (GET /v1/record-sets' `record_sets`) as a complete zone."""
    return {(record_name(record_set.get("name")), str(record_set.get("type"))): record_set_value(record_set)
            for record_set in record_sets}


# --- what the checker and the console ask of the replay -----------------------------------------------

def endpoint_moves(steps: Iterable[Step], endpoint: str) -> list[Move]:
    """One Move per batch that left the endpoint aliasing another name than before it."""
    endpoint = record_name(endpoint)
    moves = []
    for step in steps:
        before, after = alias_of(step.before, endpoint), alias_of(step.after, endpoint)
        touched = any(change.name == endpoint and change.type == "ALIAS" for change in step.batch.changes)
        if touched and before != after:
            moves.append(Move(step.batch.t, step.batch.change_id, step.batch.client, _generation(before, endpoint),
                              _generation(after, endpoint), step.batch.seq))
    return moves


def backward_moves(moves: Iterable[Move]) -> list[Move]:
    return [move for move in moves if move.backwards]


def referenced_deletions(steps: Iterable[Step], endpoint: str, *, exempt: Sequence[str] = ()) -> list[Deletion]:
    """Each plan record set deleted while the endpoint or the rollback record aliased it (after the batch:
    a batch that moves the reference away in the same breath deletes nothing referenced). Batches of an
    `exempt` client (the nemesis, whose deletion is the fault it injects) are not counted."""
    endpoint = record_name(endpoint)
    rollback = rollback_record_name(endpoint)
    found = []
    for step in steps:
        if step.batch.client in exempt:
            continue
        for change in step.batch.changes:
            if change.action != "DELETE" or change.type != "A" or _generation(change.name, endpoint) is None:
                continue
            if step.after.get((change.name, "A"), None) is not None:
                continue   # deleted and written again in the same batch
            for reference, label in ((endpoint, "the endpoint"), (rollback, "the rollback record")):
                if alias_of(step.after, reference) == change.name:
                    found.append(Deletion(step, change.name, label))
    return found


def _generation(target: str | None, endpoint: str) -> int | None:
    return generation_of_record_name(target, endpoint) if target else None
