"""The apply loop, shared by every mode: the one parent function where control flow lives.

    1. read the newest plan P
    2. check P is newer than the plan each endpoint points at        (legacy: once, here)
    3. take the endpoint's lock (backoff and retry while it is busy)
    4. write P's record set for the endpoint
    5. one change batch: endpoint -> P, rollback -> the plan it points at now (the variant builds it)
    6. release the lock
    7. cleanup: delete plans more than K generations older than P    (the variant selects them)

Cleanup (7) also runs on every pass that finds no new plan, relative to the newest plan this enactor
applied: record sets that a slow or crashed enactor wrote late would otherwise never be swept.

Effects happen at the edges (Enactor's plans, lock, admin, events); the rules are pure functions in
dnsrace.rules. Every decision emits exactly one event, carrying the plan id and the lock token.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dnsrace.dns_admin_client import DnsAdminClient
from dnsrace.healthcheck import touch
from dnsrace.lock import EndpointLock, Lease, LockRefused
from dnsrace.plan_store import PlanStore
from dnsrace.plans import MalformedPlan, Plan, generation_of_record_name, plan_record_name
from dnsrace.records import ARecord, Change, ChangeBatch, RecordSet, RecordSetMissing
from dnsrace.rules import backoff_ms, is_newer

__all__ = ["Enactor", "EventSink", "Variant", "apply_plan", "run_apply_loop"]

ALIVE_FILE = "/tmp/enactor-alive"


class EventSink(Protocol):
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None: ...


class Variant(Protocol):
    """What a mode decides. Everything else is the shared loop."""

    name: str

    async def point_endpoint(self, enactor: Enactor, endpoint: str, plan: Plan, lease: Lease) -> None:
        """Step 5: one change batch moving the endpoint (and the rollback record)."""

    def select_cleanup(self, generations: list[int], applied: Plan, keep_generations: int) -> list[int]:
        """Step 7: which plan generations to delete after applying `applied`."""


@dataclass
class Enactor:
    """The edges one enactor talks to, and its settings."""

    service: str
    plans: PlanStore
    admin: DnsAdminClient
    events: EventSink
    lock_for: Callable[[str], EndpointLock]
    keep_generations: int
    plan_ttl_s: int
    lock_attempts_max: int
    lock_backoff_base_ms: int
    lock_backoff_cap_ms: int
    poll_interval_ms: int
    rng: random.Random = field(default_factory=random.Random)
    last_generation: int = 0
    last_applied: Plan | None = None

    def batch(self, comment: str, *changes: Change) -> ChangeBatch:
        return ChangeBatch(changes=tuple(changes), comment=comment, client=self.service)


async def run_apply_loop(enactor: Enactor, variant: Variant, *, stop: asyncio.Event) -> None:
    """Apply each new plan once, until `stop` is set. An exception that escapes is a crash."""
    await enactor.events.emit("enactor_started", mode=variant.name, keep_generations=enactor.keep_generations)
    while not stop.is_set():
        touch(ALIVE_FILE)
        try:
            plan = await enactor.plans.newest()
        except MalformedPlan as error:
            # A bad plan is refused with a clear event, in every mode; it is not the bug we reproduce.
            await enactor.events.emit("plan_rejected", error=str(error))
            plan = None
        if plan is not None and plan.generation > enactor.last_generation:
            enactor.last_generation = plan.generation
            await apply_plan(enactor, variant, plan)
        elif enactor.last_applied is not None:
            for endpoint in enactor.last_applied.endpoints:
                await cleanup(enactor, variant, endpoint, enactor.last_applied)
        jitter = enactor.rng.uniform(0.8, 1.2)
        try:
            await asyncio.wait_for(stop.wait(), timeout=enactor.poll_interval_ms * jitter / 1000)
        except TimeoutError:
            pass


async def apply_plan(enactor: Enactor, variant: Variant, plan: Plan) -> None:
    events = enactor.events
    # Step 2. Each endpoint's live plan is read and compared now — and, in legacy mode, never again.
    for endpoint in plan.endpoints:
        alias = await enactor.admin.get_record_set(endpoint, "ALIAS")
        live_target = alias.target if alias is not None else None
        live_generation = generation_of_record_name(live_target, endpoint) if live_target else None
        live_plan = live_target.split(".", 1)[0] if live_target else None
        if not is_newer(plan.generation, live_generation):
            await events.emit("plan_skipped", plan=plan.id, endpoint=endpoint, live=live_plan,
                              why="not newer than the live plan")
            return
        await events.emit("check_passed", plan=plan.id, endpoint=endpoint, live=live_plan)

    for endpoint in plan.endpoints:
        lease = await acquire_lock(enactor, endpoint, plan)       # step 3
        if lease is None:
            return
        try:
            await write_plan_record_set(enactor, endpoint, plan, lease)                  # step 4
            await variant.point_endpoint(enactor, endpoint, plan, lease)                 # step 5
        finally:
            await release_lock(enactor, endpoint, plan, lease)    # step 6

    enactor.last_applied = plan
    deleted: list[str] = []
    for endpoint in plan.endpoints:
        deleted += await cleanup(enactor, variant, endpoint, plan)  # step 7
    await events.emit("apply_finished", plan=plan.id, cleaned=deleted)


async def acquire_lock(enactor: Enactor, endpoint: str, plan: Plan) -> Lease | None:
    lock = enactor.lock_for(endpoint)
    for attempt in range(enactor.lock_attempts_max):
        touch(ALIVE_FILE)
        outcome = await lock.try_acquire()
        if isinstance(outcome, Lease):
            await enactor.events.emit("lock_acquired", plan=plan.id, token=outcome.token, endpoint=endpoint,
                                      attempt=attempt + 1)
            return outcome
        if attempt + 1 == enactor.lock_attempts_max:
            await enactor.events.emit("lock_refused", plan=plan.id, endpoint=endpoint, held_by=outcome.held_by,
                                      attempt=attempt + 1, retry_in_ms=None)
            break
        delay_ms = backoff_ms(attempt, base_ms=enactor.lock_backoff_base_ms, cap_ms=enactor.lock_backoff_cap_ms,
                              rng=enactor.rng)
        await enactor.events.emit("lock_refused", plan=plan.id, endpoint=endpoint, held_by=outcome.held_by,
                                  attempt=attempt + 1, retry_in_ms=delay_ms)
        await asyncio.sleep(delay_ms / 1000)
    await enactor.events.emit("lock_gave_up", plan=plan.id, endpoint=endpoint, attempts=enactor.lock_attempts_max)
    return None


async def release_lock(enactor: Enactor, endpoint: str, plan: Plan, lease: Lease) -> None:
    held = await enactor.lock_for(endpoint).release(lease)
    # A lock that expired under us is not an error the holder was ever told about; it only shows here.
    kind = "lock_released" if held else "lock_expired_before_release"
    await enactor.events.emit(kind, plan=plan.id, token=lease.token, endpoint=endpoint)


async def write_plan_record_set(enactor: Enactor, endpoint: str, plan: Plan, lease: Lease) -> None:
    name = plan_record_name(plan.id, endpoint)
    record_set = RecordSet.a(name, enactor.plan_ttl_s, (ARecord(t.address, t.weight) for t in plan.targets))
    result = await enactor.admin.submit(enactor.batch(f"{plan.id}: record set", Change("UPSERT", record_set)))
    await enactor.events.emit("record_set_written", plan=plan.id, token=lease.token, endpoint=endpoint, name=name,
                              change_id=result.change_id, addresses=[t.address for t in plan.targets])


async def cleanup(enactor: Enactor, variant: Variant, endpoint: str, applied: Plan) -> list[str]:
    """Step 7; returns the plans it deleted."""
    deleted: list[str] = []
    plan_sets = {}
    for record_set in await enactor.admin.list_record_sets():
        generation = generation_of_record_name(record_set.name, endpoint)
        if generation is not None and record_set.type == "A":
            plan_sets[generation] = record_set
    for generation in variant.select_cleanup(sorted(plan_sets), applied, enactor.keep_generations):
        record_set = plan_sets[generation]
        victim = record_set.name.split(".", 1)[0]
        try:
            result = await enactor.admin.submit(
                enactor.batch(f"cleanup after {applied.id}", Change("DELETE", record_set)))
        except RecordSetMissing:
            # Another enactor's cleanup got there first: the goal (gone) is reached either way.
            await enactor.events.emit("cleanup_already_gone", plan=victim, endpoint=endpoint, after=applied.id)
            continue
        await enactor.events.emit("cleanup_deleted", plan=victim, endpoint=endpoint, after=applied.id,
                                  keep_generations=enactor.keep_generations, change_id=result.change_id)
        deleted.append(victim)
    return deleted
