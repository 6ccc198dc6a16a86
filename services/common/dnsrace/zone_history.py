"""The zone's history as dns-admin applied it: its accepted batches replayed in order, by name.

Two readers judge the same history and share these pure functions: the chaos campaign's checker
(dnsrace_lab.checker), which replays dns-admin's audit after a run, and the responder's console
(dnsrace_admin.console), which replays dns-admin's `batch_accepted` events while it happens. Either
way a batch becomes a `Batch` of `NameChange`s, and each question is asked in one place:

    batches_from_audit(rows)             the accepted audit rows, in dns-admin's order
    batches_from_events(events)          dns-admin's batch_accepted events, in dns-admin's order
    replay(batches, complete=...)        (batch, zone before, zone after) for each batch
    endpoint_moves(steps, endpoint)      every batch that left the endpoint aliasing another name
    backward_moves(moves)                the moves to an older generation than the one before
    referenced_deletions(steps, endpoint)  plans deleted while the endpoint or the rollback record aliased them

A zone here is names only: {(name, type): an ALIAS's target, "" for an A set, or None when the set is
known to be absent}. An audit replayed from its first row is `complete`: a name never written is
absent. A window of events is not: it starts in a zone it never saw, so a name it has not seen written
is unknown (missing from the mapping), neither there nor absent; an accepted DELETE still proves the
set existed, and an accepted CREATE that it did not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .events import Event
from .plans import generation_of_record_name, rollback_record_name

__all__ = ["Batch", "Deletion", "Move", "NameChange", "Step", "Zone", "alias_of", "backward_moves",
           "batches_from_audit", "batches_from_events", "endpoint_moves", "exists", "parse_described_change",
           "referenced_deletions", "replay"]

Zone = dict[tuple[str, str], "str | None"]
# What Change.describe() writes (dnsrace.records): `UPSERT ALIAS a.lab.test -> b.lab.test`,
# `DELETE A plan-000004.dynamodb.us-east-1.lab.test (3 records, ttl 1)`.
_DESCRIBED = re.compile(r"(CREATE|DELETE|UPSERT) (A|ALIAS) (\S+)(?: -> (\S+))?")
_CHANGE_NUMBER = re.compile(r"change-([0-9]{1,12})")


@dataclass(frozen=True)
class NameChange:
    action: str            # CREATE | DELETE | UPSERT
    type: str              # A | ALIAS
    name: str
    target: str | None     # an ALIAS's target; None for an A set


@dataclass(frozen=True)
class Batch:
    order: int             # dns-admin's order: its change number (the audit's row number for the checker)
    t: float
    change_id: str
    client: str
    comment: str
    changes: tuple[NameChange, ...]
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


def _name(text: Any) -> str:
    return str(text or "").rstrip(".").lower()


def parse_described_change(text: str) -> NameChange | None:
    """One of dns-admin's described changes back into its names; None if it is not one."""
    match = _DESCRIBED.match(text)
    if match is None:
        return None
    action, record_type, name, target = match.groups()
    return NameChange(action, record_type, _name(name), _name(target) if record_type == "ALIAS" and target else None)


def batches_from_audit(audit: Iterable[Mapping[str, Any]]) -> list[Batch]:
    """The accepted rows of dns-admin's audit, in the order it applied them (its row number)."""
    batches = []
    for row in sorted((r for r in audit if r.get("outcome") == "accepted"), key=lambda r: int(r.get("seq") or 0)):
        changes = []
        for change in (row.get("batch") or {}).get("changes", []):
            record_set = change.get("record_set") or {}
            record_type = str(record_set.get("type"))
            target = _name(record_set.get("target")) if record_type == "ALIAS" else None
            changes.append(NameChange(str(change.get("action")), record_type, _name(record_set.get("name")), target))
        batches.append(Batch(int(row.get("seq") or 0), float(row.get("t") or 0.0), str(row.get("change_id")),
                             str(row.get("client") or ""), str(row.get("comment") or ""), tuple(changes)))
    return batches


def batches_from_events(events: Iterable[Event]) -> list[Batch]:
    """dns-admin's `batch_accepted` events as batches, in its order (the change number): events are
    written by decision time, and a batch is only ever accepted by dns-admin, so its order is exact."""
    batches = []
    for event in events:
        if event.service != "dns-admin" or event.kind != "batch_accepted":
            continue
        change_id = str(event.detail.get("change_id") or "")
        number = _CHANGE_NUMBER.fullmatch(change_id)
        described = event.detail.get("changes")
        if number is None or not isinstance(described, list):
            continue   # not one dns-admin wrote: nothing to replay
        changes = tuple(change for text in described if (change := parse_described_change(str(text))) is not None)
        batches.append(Batch(int(number.group(1)), event.t, change_id, str(event.detail.get("client") or ""),
                             str(event.detail.get("comment") or ""), changes, event.seq))
    return sorted(batches, key=lambda batch: batch.order)


def replay(batches: Sequence[Batch], *, complete: bool) -> list[Step]:
    """(batch, zone before, zone after) for each batch. `complete`: the batches start from the empty zone."""
    zone: Zone = {}
    steps: list[Step] = []
    for batch in batches:
        before = steps[-1].after if steps else {}     # the zone after the previous batch: shared, never changed
        for change in batch.changes:
            key = (change.name, change.type)
            if change.action == "DELETE":
                zone[key] = None
            else:
                zone[key] = change.target if change.type == "ALIAS" else ""
        if complete:
            zone = {key: value for key, value in zone.items() if value is not None}
        steps.append(Step(batch, before, dict(zone)))
    return steps


def alias_of(zone: Zone, name: str) -> str | None:
    """What `name` aliases in `zone`; None when it aliases nothing (or that is not known)."""
    return zone.get((name, "ALIAS")) or None


def exists(zone: Zone, name: str, type_: str = "A", *, complete: bool) -> bool | None:
    """True, False, or None (unknown: a window that never saw the set written)."""
    key = (name, type_)
    if key not in zone:
        return False if complete else None
    return zone[key] is not None


def endpoint_moves(steps: Iterable[Step], endpoint: str) -> list[Move]:
    """One Move per batch that left the endpoint aliasing another name than before it."""
    endpoint = _name(endpoint)
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
    endpoint = _name(endpoint)
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
