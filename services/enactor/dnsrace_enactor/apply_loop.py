"""The apply loop, shared by every mode: the one parent function where control flow and I/O live.

    1. read the newest plan P
    2. read the facts for each endpoint; ask the mode whether P should be applied   (the check)
    3. take the endpoint's lock (backoff and retry while it is busy)
    4. write P's record set for the endpoint
    5. read the facts again; send the change batch the mode builds from both reads
    6. release the lock
    7. cleanup, after an apply only: read the facts, delete what the mode selects, one batch each
    then, in a mode that checks its own work: resolve the endpoint through CoreDNS and, if it
    answers empty, ask the mode whether the zone is why; if so, apply the newest plan again.

A mode (legacy.py, safe.py) is a module of pure functions over Facts; it never does I/O. An error in
a pass goes to the mode's on_error: legacy re-raises it (the process dies), safe answers "retry"
(an event, a bounded backoff, a fresh pass) or "freeze" (no more writes, one alarm event).
Every decision emits exactly one event, carrying the plan id and, where there is one, the lock token.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dnsrace.deadline import sleep_or_stop, stray_cancellation
from dnsrace.dns_admin_client import DnsAdminClient, describe_error
from dnsrace.events import EventSink
from dnsrace.healthcheck import touch
from dnsrace.lock import EndpointLock, Lease
from dnsrace.plan_store import PlanStore
from dnsrace.plans import MalformedPlan, Plan, plan_of_record_name, plan_record_name
from dnsrace.records import ARecord, Change, ChangeBatch, ChangeConflict, RecordSet, RecordSetMissing
from dnsrace.rules import backoff_ms

from .dns_check import TIMED_OUT, EndpointResolver
from .facts import Cleanup, Facts, StateUnreasonable, Verdict, rollback_target_after

__all__ = ["Enactor", "EventSink", "Mode", "apply_and_clean", "apply_plan", "one_pass", "run_apply_loop"]

ALIVE_FILE = "/tmp/enactor-alive"


class Mode(Protocol):
    """What a mode decides (legacy.py, safe.py). Everything else is this loop."""

    NAME: str
    CHECKS_ITS_OWN_WORK: bool

    def should_apply(self, plan: Plan, facts: Facts) -> bool: ...
    def cannot_reason_about(self, facts: Facts) -> str | None: ...
    def point_batch(self, plan: Plan, checked: Facts, current: Facts) -> tuple[Change, ...]: ...
    def on_error(self, error: Exception) -> Verdict: ...
    def cleanup(self, facts: Facts, applied: Plan, keep_generations: int) -> Cleanup: ...
    def cleanup_batch(self, facts: Facts, victim: RecordSet) -> tuple[Change, ...]: ...
    def repair_needed(self, facts: Facts) -> str | None: ...


@dataclass
class Enactor:
    """The edges one enactor talks to, its settings, and the little it remembers between passes."""

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
    resolver: EndpointResolver | None = None   # the self-check's path to CoreDNS (modes that check)
    retry_count_max: int = 10                  # failed passes on one plan before giving it up
    retry_backoff_base_ms: int = 200
    retry_backoff_cap_ms: int = 5_000
    rng: random.Random = field(default_factory=random.Random)
    last_generation: int = 0                   # the newest plan this enactor has finished with
    working_on: Plan | None = None             # the plan of the pass in progress (for error events)
    failures: int = 0                          # consecutive failed passes
    frozen: str | None = None                  # why writes are frozen (None: not frozen)
    frozen_sticky: bool = False                # frozen by an error, not a state: stays until restart
    empty_seen: bool = False                   # the self-check's last answer was empty
    rejected: str | None = None                # why the newest plan was refused (None: it was not)
    # Settings the enactor has and the loop does not read (the lock's TTL, the self-check's deadline):
    # reported in enactor_started, which is where the lab learns them (never from copied defaults).
    reported: dict[str, Any] = field(default_factory=dict)

    def batch(self, comment: str, changes: Sequence[Change]) -> ChangeBatch:
        return ChangeBatch(changes=tuple(changes), comment=comment, client=self.service)


async def run_apply_loop(enactor: Enactor, mode: Mode, *, stop: asyncio.Event) -> None:
    """Pass after pass until `stop` is set. An exception that escapes is a crash (legacy only).

    The enactor's shutdown is `stop` (SIGTERM and SIGINT set it), never a cancellation: so a
    CancelledError that reaches this loop while `stop` is clear came out of a library, not from anyone
    stopping the enactor. It is withdrawn and handed to the mode as a StrayCancellation, like any other
    error of a pass: safe retries on fresh facts, legacy dies of it with a crash event. Left to escape,
    it would end the process with no event at all (a BaseException passes every `except Exception`).
    """
    await enactor.events.emit("enactor_started", mode=mode.NAME, keep_generations=enactor.keep_generations,
                              **enactor.reported)
    while not stop.is_set():
        touch(ALIVE_FILE)
        delay_ms = enactor.poll_interval_ms * enactor.rng.uniform(0.8, 1.2)
        try:
            try:
                await one_pass(enactor, mode)
            except asyncio.CancelledError as cancelled:
                if stop.is_set():
                    raise
                # Its traceback kept: a crash event names the library line the cancellation came out of.
                stray = stray_cancellation(f"{enactor.service}'s pass").with_traceback(cancelled.__traceback__)
                raise stray from None
            enactor.failures = 0
        except Exception as error:  # every error goes to the mode; legacy's on_error re-raises it
            verdict = mode.on_error(error)
            delay_ms = await _after_error(enactor, error, verdict)
        await sleep_or_stop(stop, delay_ms / 1000)


async def _after_error(enactor: Enactor, error: Exception, verdict: Verdict) -> float:
    """Record what the mode decided about an error; returns how long to wait before the next pass."""
    plan = enactor.working_on.id if enactor.working_on is not None else None
    if verdict == "freeze":
        await freeze(enactor, plan, describe_error(error), sticky=not isinstance(error, StateUnreasonable))
        return enactor.poll_interval_ms
    enactor.failures += 1
    delay = backoff_ms(min(enactor.failures - 1, 30), base_ms=enactor.retry_backoff_base_ms,
                       cap_ms=enactor.retry_backoff_cap_ms, rng=enactor.rng)
    # A refused batch is optimistic concurrency doing its job (the zone moved since the check); a lost
    # answer or a dead peer is a failure. Either way: fresh facts on the next pass.
    kind = "write_refused" if isinstance(error, ChangeConflict) else "apply_failed"
    await enactor.events.emit(kind, plan=plan, error=describe_error(error), failures=enactor.failures,
                              retry_in_ms=delay)
    if enactor.failures >= enactor.retry_count_max and enactor.working_on is not None:
        # Bounded: this plan is given up; the next plan (or the self-check) starts afresh.
        enactor.last_generation = max(enactor.last_generation, enactor.working_on.generation)
        await enactor.events.emit("apply_gave_up", plan=plan, failures=enactor.failures)
        enactor.failures = 0
    return delay


async def freeze(enactor: Enactor, plan: str | None, why: str, *, sticky: bool) -> None:
    if enactor.frozen is None:  # one alarm, not one per pass
        await enactor.events.emit("enactor_frozen", plan=plan, why=why, alarm=True,
                                  until="restart" if sticky else "the state is one it can reason about")
    enactor.frozen, enactor.frozen_sticky = why, enactor.frozen_sticky or sticky


async def one_pass(enactor: Enactor, mode: Mode) -> None:
    enactor.working_on = None
    try:
        plan = await enactor.plans.newest()                                       # step 1
    except MalformedPlan as error:
        # A bad plan is refused before any mode sees it, in every mode (it is not the bug we reproduce),
        # with one event per distinct refusal, not one per pass.
        if str(error) != enactor.rejected:
            enactor.rejected = str(error)
            await enactor.events.emit("plan_rejected", error=str(error))
        return
    enactor.rejected = None
    if plan is None or enactor.frozen_sticky:
        return
    enactor.working_on = plan
    if enactor.frozen is not None and not await thawed(enactor, mode, plan):
        return
    if plan.generation > enactor.last_generation:
        await apply_and_clean(enactor, mode, plan)
        enactor.last_generation = plan.generation
    if mode.CHECKS_ITS_OWN_WORK:
        await self_check(enactor, mode, plan)


async def thawed(enactor: Enactor, mode: Mode, plan: Plan) -> bool:
    """Frozen by a state: read the facts again; thaw (True) once the mode can reason about them."""
    for endpoint in plan.endpoints:
        if mode.cannot_reason_about(await read_facts(enactor, endpoint)) is not None:
            return False
    await enactor.events.emit("enactor_unfrozen", plan=plan.id, was=enactor.frozen)
    enactor.frozen = None
    return True


async def read_facts(enactor: Enactor, endpoint: str) -> Facts:
    return Facts.from_record_sets(await enactor.admin.list_record_sets(), endpoint)


async def apply_and_clean(enactor: Enactor, mode: Mode, plan: Plan) -> None:
    """Steps 2-7: cleanup runs after an apply only (as in the incident), never on an idle pass."""
    if await apply_plan(enactor, mode, plan):
        await cleanup_after(enactor, mode, plan)                                  # step 7


async def apply_plan(enactor: Enactor, mode: Mode, plan: Plan) -> bool:
    """Steps 2-6 for every endpoint of the plan. True if it pointed the endpoints (cleanup may follow)."""
    events = enactor.events
    checked: dict[str, Facts] = {}
    for endpoint in plan.endpoints:                                               # step 2
        facts = await read_facts(enactor, endpoint)
        if (why := mode.cannot_reason_about(facts)) is not None:
            raise StateUnreasonable(why)
        if not mode.should_apply(plan, facts):
            await events.emit("plan_skipped", plan=plan.id, endpoint=endpoint, live=facts.live_plan,
                              why="not newer than the live plan")
            return False
        await events.emit("check_passed", plan=plan.id, endpoint=endpoint, live=facts.live_plan,
                          **({"restoring": True} if facts.lost_live_plan(plan.id) else {}))
        checked[endpoint] = facts

    for endpoint in plan.endpoints:
        lease = await acquire_lock(enactor, endpoint, plan)                       # step 3
        if lease is None:
            return False
        try:
            await write_plan_record_set(enactor, endpoint, plan, lease)           # step 4
            current = await read_facts(enactor, endpoint)                         # step 5
            await point_endpoint(enactor, endpoint, plan, lease,
                                 mode.point_batch(plan, checked[endpoint], current), checked[endpoint])
        finally:
            await release_lock(enactor, endpoint, plan, lease)                    # step 6
    return True


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
    result = await enactor.admin.submit(enactor.batch(f"{plan.id}: record set", [Change("UPSERT", record_set)]))
    await enactor.events.emit("record_set_written", plan=plan.id, token=lease.token, endpoint=endpoint, name=name,
                              change_id=result.change_id, addresses=[t.address for t in plan.targets])


async def point_endpoint(enactor: Enactor, endpoint: str, plan: Plan, lease: Lease, changes: tuple[Change, ...],
                         checked: Facts) -> None:
    events = enactor.events
    if not changes:
        await events.emit("endpoint_unchanged", plan=plan.id, token=lease.token, endpoint=endpoint,
                          why="already points at it")
        return
    result = await enactor.admin.submit(enactor.batch(f"{plan.id}: point {endpoint}", changes))
    rollback = rollback_target_after(changes, endpoint)
    rollback_plan = plan_of_record_name(rollback) if rollback else None
    await events.emit("endpoint_pointed", plan=plan.id, token=lease.token, endpoint=endpoint, rollback=rollback_plan,
                      change_id=result.change_id)
    if rollback is None and checked.live_target is not None:
        await events.emit("rollback_emptied", plan=plan.id, token=lease.token, endpoint=endpoint,
                          previous=checked.live_plan, why=f"{checked.live_plan} no longer exists")


async def cleanup_after(enactor: Enactor, mode: Mode, applied: Plan) -> None:
    deleted: list[str] = []
    for endpoint in applied.endpoints:
        deleted += await cleanup(enactor, mode, endpoint, applied)
    await enactor.events.emit("apply_finished", plan=applied.id, cleaned=deleted)


async def cleanup(enactor: Enactor, mode: Mode, endpoint: str, applied: Plan) -> list[str]:
    """Step 7 for one endpoint; returns the plans it deleted."""
    facts = await read_facts(enactor, endpoint)
    chosen = mode.cleanup(facts, applied, enactor.keep_generations)
    for generation, why in chosen.spared.items():
        await enactor.events.emit("cleanup_spared", plan=plan_of_record_name(facts.plan_sets[generation].name),
                                  endpoint=endpoint, after=applied.id, why=why)
    deleted: list[str] = []
    for generation in chosen.victims:
        record_set = facts.plan_sets[generation]
        victim = plan_of_record_name(record_set.name)
        changes = mode.cleanup_batch(facts, record_set)
        try:
            result = await enactor.admin.submit(enactor.batch(f"cleanup after {applied.id}", changes))
        except RecordSetMissing as error:
            if error.change_index != len(changes) - 1:
                raise
            # Another enactor's cleanup got there first: the goal (gone) is reached either way.
            await enactor.events.emit("cleanup_already_gone", plan=victim, endpoint=endpoint, after=applied.id)
            continue
        await enactor.events.emit("cleanup_deleted", plan=victim, endpoint=endpoint, after=applied.id,
                                  keep_generations=enactor.keep_generations, change_id=result.change_id)
        deleted.append(victim)
    return deleted


async def self_check(enactor: Enactor, mode: Mode, newest: Plan) -> None:
    """Resolve each endpoint through CoreDNS; an empty answer the zone explains is repaired at once."""
    assert enactor.resolver is not None, "a mode that checks its own work needs a resolver"
    for endpoint in newest.endpoints:
        answer = await enactor.resolver.resolve(endpoint)
        if answer.addresses or answer.rcode == TIMED_OUT:
            if enactor.empty_seen and answer.addresses:
                enactor.empty_seen = False
                await enactor.events.emit("self_check_answering", plan=None, endpoint=endpoint,
                                          addresses=list(answer.addresses))
            continue
        facts = await read_facts(enactor, endpoint)
        why = mode.repair_needed(facts)
        if why is None:
            continue  # the zone is fine; CoreDNS has not reloaded it yet (it re-reads every second)
        enactor.empty_seen = True
        await enactor.events.emit("endpoint_empty_found", plan=facts.live_plan, endpoint=endpoint,
                                  rcode=answer.rcode, why=why, newest=newest.id)
        await apply_and_clean(enactor, mode, newest)

