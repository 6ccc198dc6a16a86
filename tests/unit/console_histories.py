"""Histories for the console's tests: four recorded runs (tests/unit/data/traces, the same the trace check
uses) and a small builder for hand-written ones, in the event stream's own shape."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dnsrace.events import Event
from dnsrace.records import ARecord, Change, RecordSet
from dnsrace.zone_history import event_changes
from dnsrace_admin.console.now import Answer, Now

EP = "dynamodb.us-east-1.lab.test"
ROLLBACK = f"rollback.{EP}"
TRACES = Path(__file__).parent / "data" / "traces"
LEGACY_RACE = "20261129T144656Z-legacy-race.jsonl.gz"
LEGACY_MANUAL_DELETE = "20261129T144846Z-legacy-manual-delete.jsonl.gz"
SAFE_RACE = "20261129T152631Z-safe-race.jsonl.gz"
SAFE_MANUAL_DELETE = "20261129T152732Z-safe-manual-delete.jsonl.gz"
ADDRESSES = ("192.168.144.2", "192.168.144.3", "192.168.144.4")
RECORDS = tuple(ARecord(address, weight) for address, weight in zip(ADDRESSES, (10, 10, 20)))


def recorded(name: str) -> list[Event]:
    with gzip.open(TRACES / name, "rt") as source:
        return [Event.from_json(row) for line in source if (row := json.loads(line)).get("source") == "event"]


def plan(generation: int) -> str:
    return f"plan-{generation:06d}.{EP}"


def a_set(generation: int) -> RecordSet:
    """A plan's record set, as the enactors write it."""
    return RecordSet.a(plan(generation), 1, RECORDS)


def aliasing(name: str, generation: int) -> RecordSet:
    return RecordSet.alias(name, plan(generation))


def answer(view: str = "resolver", *, empty: bool = False, silent: bool = False, soa_ttl: int = 15) -> Answer:
    if silent:
        return Answer(view, "coredns:53", None, error="TimeoutError: ")
    if empty:
        return Answer(view, "coredns:53", "NOERROR", (), soa_ttl)
    return Answer(view, "coredns:53", "NOERROR", ADDRESSES)


def now(t: float, target: int | None, existing: Iterable[int], *, resolver: Answer | None = None,
        rollback: int | None = None, newest: int | None = None) -> Now:
    names = frozenset(plan(g) for g in existing)
    target_name = plan(target) if target is not None else None
    empty = target_name is None or target_name not in names
    return Now(t, EP, target_name, plan(rollback) if rollback else None, names, 100,
               resolver or answer(empty=empty), answer("authoritative", empty=empty), newest)


class H:
    """A hand-written history: events in the stream's shape, seq in order of writing."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._number = 0

    def event(self, t: float, service: str, kind: str, plan_id: str | None = None, **detail: Any) -> Event:
        event = Event(t, service, kind, plan_id, None, detail, seq=len(self.events) + 1)
        self.events.append(event)
        return event

    def batch(self, t: float, client: str, *changes: Change, comment: str = "") -> str:
        self._number += 1
        change_id = f"change-{self._number:06d}"
        self.event(t, "dns-admin", "batch_accepted", None, change_id=change_id, client=client, comment=comment,
                   **event_changes(changes))
        return change_id

    def apply(self, t: float, enactor: str, generation: int, rollback: int | None = None) -> str:
        """An enactor's record-set write and point batch, with its own events."""
        self.event(t, "planner", "plan_created", f"plan-{generation:06d}", generation=generation, reason="tick")
        self.event(t + 0.01, enactor, "check_passed", f"plan-{generation:06d}", live=None)
        self.batch(t + 0.02, enactor, Change("UPSERT", a_set(generation)), comment="record set")
        changes = [Change("UPSERT", aliasing(EP, generation))]
        if rollback is not None:
            changes.append(Change("UPSERT", aliasing(ROLLBACK, rollback)))
        change_id = self.batch(t + 0.03, enactor, *changes, comment=f"plan-{generation:06d}: point")
        self.event(t + 0.04, enactor, "endpoint_pointed", f"plan-{generation:06d}", endpoint=EP, change_id=change_id,
                   rollback=f"plan-{rollback:06d}" if rollback else None)
        return change_id

    def cleanup(self, t: float, enactor: str, generation: int, after: int) -> str:
        change_id = self.batch(t, enactor, Change("DELETE", a_set(generation)), comment=f"cleanup after plan-{after:06d}")
        self.event(t + 0.01, enactor, "cleanup_deleted", f"plan-{generation:06d}", after=f"plan-{after:06d}",
                   change_id=change_id)
        return change_id

    def crash(self, t: float, enactor: str, rollback: int = 15) -> None:
        failing = Change("UPSERT", aliasing(ROLLBACK, rollback))
        self.event(t, "dns-admin", "batch_rejected", None, error="AliasTargetMissing", client=enactor,
                   message=f"change 1: {failing.describe()}: alias target does not exist", change_index=1,
                   change=failing.to_json())
        self.event(t + 0.01, enactor, "enactor_crashed", None, exception="AliasTargetMissing", message="change 1: …",
                   protocol_at="services/enactor/dnsrace_enactor/legacy.py:42", raised_at="dns_admin_client.py:61")
        self.event(t + 1.0, enactor, "enactor_started", None, mode="legacy", keep_generations=5)
