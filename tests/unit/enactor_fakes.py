"""Fakes for the enactor's unit tests: one in-memory zone judged by dns-admin's own rules, scripted
locks and plans, an event recorder, and a resolver that answers from the zone as CoreDNS would.

Only the unit tests use these; the integration tests run the real containers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from dnsrace.dns_admin_client import ChangeResult
from dnsrace.lock import Lease, LockRefused
from dnsrace.plans import Plan, Target, plan_record_name, rollback_record_name
from dnsrace.records import ChangeBatch, ChangeConflict, Change, RecordSet
from dnsrace.batch_rules import RecordKey, apply_changes
from dnsrace_admin.zone_file import answering_records
from dnsrace_enactor.apply_loop import Enactor, Mode, apply_and_clean
from dnsrace_enactor.dns_check import DnsAnswer
from dnsrace_enactor import legacy

EP = "dynamodb.us-east-1.lab.test"
EP6 = "dynamodb-dualstack.us-east-1.lab.test"
ROLLBACK = rollback_record_name(EP)

Recorded = tuple[str, str | None, int | None, dict[str, Any]]


def plan(generation: int, *addresses: str, endpoints: tuple[str, ...] = (EP,)) -> Plan:
    chosen = addresses or (f"10.0.{generation // 250}.{generation % 250 + 1}",)
    targets = tuple(Target(f"backend-{index + 1}", address, 1) for index, address in enumerate(chosen))
    return Plan(generation, endpoints, targets, created_at=1_700_000_000.0 + generation)


def plan_set(generation: int, endpoint: str = EP) -> str:
    return plan_record_name(f"plan-{generation:06d}", endpoint)


# --- fakes -------------------------------------------------------------------------------------------


class FakeAdmin:
    """dns-admin's API over one in-memory zone; batches are judged by dns-admin's own apply_changes."""

    def __init__(self) -> None:
        self.zone: dict[RecordKey, RecordSet] = {}
        self.serial = 0
        self.rejected: list[tuple[ChangeBatch, ChangeConflict]] = []
        self.after_list: Callable[[], None] | None = None
        self.listings = 0

    async def get_record_set(self, name: str, type_: str) -> RecordSet | None:
        return self.zone.get((name, type_))

    async def list_record_sets(self) -> list[RecordSet]:
        self.listings += 1
        listing = list(self.zone.values())
        if self.after_list is not None:
            self.after_list()
        return listing

    async def submit(self, batch: ChangeBatch) -> ChangeResult:
        try:
            self.zone = apply_changes(self.zone, batch.changes)
        except ChangeConflict as error:
            self.rejected.append((batch, error))
            raise
        self.serial += 1
        return ChangeResult(f"C{self.serial:06d}", self.serial)

    # What an operator (or a test) does by hand, through the same rules.
    def operator(self, *changes: Change) -> None:
        self.zone = apply_changes(self.zone, changes)

    def alias_target(self, name: str) -> str | None:
        alias = self.zone.get((name, "ALIAS"))
        return alias.target if alias else None

    def plan_generations(self, endpoint: str = EP) -> list[int]:
        prefix, suffix = "plan-", f".{endpoint}"
        return sorted(int(name[len(prefix):-len(suffix)]) for name, type_ in self.zone
                      if type_ == "A" and name.startswith(prefix) and name.endswith(suffix))

    def answers(self, name: str) -> list[str]:
        """What the rendered zone answers for `name`: an alias is flattened, a dangling one is empty."""
        target = self.alias_target(name) or name
        record_set = self.zone.get((target, "A"))
        return [record.address for record in answering_records(record_set)] if record_set else []


class FakeLock:
    """Refuses `refusals` times (held by another enactor), then grants; tokens only grow."""

    def __init__(self, *, holder: str = "enactor-a", refusals: int = 0, expired: bool = False,
                 first_token: int = 1) -> None:
        self.holder = holder
        self.refusals_left = refusals
        self.expired = expired
        self.next_token = first_token
        self.attempts = 0
        self.released: list[Lease] = []

    async def try_acquire(self) -> Lease | LockRefused:
        self.attempts += 1
        if self.refusals_left > 0:
            self.refusals_left -= 1
            return LockRefused("enactor-b:41")
        lease = Lease(self.holder, self.next_token)
        self.next_token += 1
        return lease

    async def release(self, lease: Lease) -> bool:
        self.released.append(lease)
        return not self.expired


class GatedLock(FakeLock):
    """Blocks inside try_acquire until `opened`: the slow enactor's long run of refusals and backoff."""

    def __init__(self, holder: str, first_token: int) -> None:
        super().__init__(holder=holder, first_token=first_token)
        self.waiting = asyncio.Event()
        self.opened = asyncio.Event()

    async def try_acquire(self) -> Lease | LockRefused:
        self.waiting.set()
        await self.opened.wait()
        return await super().try_acquire()


class PausingLock(FakeLock):
    """Releases, then holds its caller between step 6 (release) and step 7 (cleanup) until resumed."""

    def __init__(self, holder: str, first_token: int) -> None:
        super().__init__(holder=holder, first_token=first_token)
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def release(self, lease: Lease) -> bool:
        held = await super().release(lease)
        self.paused.set()
        await self.resume.wait()
        return held


class Recorder:
    """The event sink: (kind, plan, token, detail) per event; `history` is shared across enactors."""

    def __init__(self, service: str, history: list[tuple[str, str, str | None]]) -> None:
        self.service = service
        self.events: list[Recorded] = []
        self.history = history

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append((kind, plan, token, detail))
        self.history.append((self.service, kind, plan))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _, _ in self.events]

    def of(self, kind: str) -> list[Recorded]:
        return [event for event in self.events if event[0] == kind]


class FakeResolver:
    """What CoreDNS's authoritative listener would answer for a name, read from the fake zone."""

    def __init__(self, admin: FakeAdmin) -> None:
        self.admin = admin
        self.queries = 0

    async def resolve(self, name: str) -> DnsAnswer:
        self.queries += 1
        addresses = tuple(sorted(self.admin.answers(name)))
        exists = any(key[0] == name for key in self.admin.zone)
        return DnsAnswer("NOERROR" if addresses or exists else "NXDOMAIN", addresses)


class FakePlans:
    """newest() answers from a script; after the last answer it sets `stop`, ending run_apply_loop."""

    def __init__(self, script: list[Plan | None | BaseException], stop: asyncio.Event) -> None:
        self.script = list(script)
        self.stop = stop
        self.calls = 0

    async def newest(self) -> Plan | None:
        self.calls += 1
        answer = self.script.pop(0)
        if not self.script:
            self.stop.set()
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Lab:
    """One zone shared by every enactor made here, and one history of all their events."""

    def __init__(self) -> None:
        self.admin = FakeAdmin()
        self.history: list[tuple[str, str, str | None]] = []

    def enactor(self, service: str = "enactor-a", *, lock: FakeLock | None = None, keep_generations: int = 3,
                lock_attempts_max: int = 5, plans: FakePlans | None = None) -> tuple[Enactor, Recorder, FakeLock]:
        chosen = lock if lock is not None else FakeLock(holder=service)
        events = Recorder(service, self.history)
        enactor = Enactor(
            service=service, plans=plans, admin=self.admin, events=events,  # type: ignore[arg-type]
            lock_for=lambda endpoint: chosen,  # type: ignore[arg-type,return-value]
            keep_generations=keep_generations, plan_ttl_s=1, lock_attempts_max=lock_attempts_max,
            lock_backoff_base_ms=100, lock_backoff_cap_ms=3000, poll_interval_ms=1, rng=random.Random(7),
            resolver=FakeResolver(self.admin), retry_count_max=3,  # type: ignore[arg-type]
        )
        return enactor, events, chosen

    async def apply_in_order(self, generations: range, *, keep_generations: int = 3, mode: Mode = legacy) -> None:
        enactor, _, _ = self.enactor("enactor-a", keep_generations=keep_generations)
        for generation in generations:
            await apply_and_clean(enactor, mode, plan(generation))


