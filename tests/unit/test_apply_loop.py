"""The apply loop in legacy mode (apply_loop.py + legacy.py), driven through in-memory fakes.

The fake dns-admin judges every batch with dns-admin's own rules (dnsrace_admin.rules.apply_changes),
so "alias to a missing target is rejected" and "DELETE must match exactly" are the real behaviour,
not a re-implementation. The other fakes are scripted: a lock, a plan store and an event recorder.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dnsrace.dns_admin_client import ChangeResult
from dnsrace.lock import Lease, LockRefused
from dnsrace.plans import MalformedPlan, Plan, Target, plan_record_name, rollback_record_name
from dnsrace.records import AliasTargetMissing, ARecord, Change, ChangeBatch, ChangeConflict, RecordSet
from dnsrace.rules import backoff_ms
from dnsrace_admin.rules import RecordKey, apply_changes
from dnsrace_admin.zone_file import answering_records
from dnsrace_enactor import apply_loop
from dnsrace_enactor.apply_loop import Enactor, apply_plan, run_apply_loop
from dnsrace_enactor.legacy import Legacy

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

    async def get_record_set(self, name: str, type_: str) -> RecordSet | None:
        return self.zone.get((name, type_))

    async def list_record_sets(self) -> list[RecordSet]:
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


class FakePlans:
    """newest() answers from a script; after the last answer it sets `stop`, ending run_apply_loop."""

    def __init__(self, script: list[Plan | None | Exception], stop: asyncio.Event) -> None:
        self.script = list(script)
        self.stop = stop
        self.calls = 0

    async def newest(self) -> Plan | None:
        self.calls += 1
        answer = self.script.pop(0)
        if not self.script:
            self.stop.set()
        if isinstance(answer, Exception):
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
        )
        return enactor, events, chosen

    async def apply_in_order(self, generations: range, *, keep_generations: int = 3) -> None:
        enactor, _, _ = self.enactor("enactor-a", keep_generations=keep_generations)
        for generation in generations:
            await apply_plan(enactor, Legacy(), plan(generation))


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
def no_backoff_wait(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the backoff sleep with a recorder, so a refusal costs no wall time; returns the delays."""
    slept: list[float] = []

    async def sleep(delay_s: float) -> None:
        slept.append(delay_s)

    monkeypatch.setattr(apply_loop.asyncio, "sleep", sleep)
    return slept


@pytest.fixture(autouse=True)
def alive_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "enactor-alive"
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(path))
    return path


# --- one plan ----------------------------------------------------------------------------------------


async def test_first_plan_on_an_empty_zone_points_the_endpoint_with_no_rollback(lab: Lab) -> None:
    enactor, events, lock = lab.enactor()
    await apply_plan(enactor, Legacy(), plan(1, "10.0.0.1", "10.0.0.2"))
    assert lab.admin.zone == {
        (plan_set(1), "A"): RecordSet.a(plan_set(1), 1, [ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 1)]),
        (EP, "ALIAS"): RecordSet.alias(EP, plan_set(1)),
    }
    assert events.events == [
        ("check_passed", "plan-000001", None, {"endpoint": EP, "live": None}),
        ("lock_acquired", "plan-000001", 1, {"endpoint": EP, "attempt": 1}),
        ("record_set_written", "plan-000001", 1, {"endpoint": EP, "name": plan_set(1), "change_id": "C000001",
                                                  "addresses": ["10.0.0.1", "10.0.0.2"]}),
        ("endpoint_pointed", "plan-000001", 1, {"endpoint": EP, "rollback": None, "change_id": "C000002"}),
        ("lock_released", "plan-000001", 1, {"endpoint": EP}),
        ("apply_finished", "plan-000001", None, {"cleaned": []}),
    ]
    assert lock.released == [Lease("enactor-a", 1)]
    assert lab.admin.answers(EP) == ["10.0.0.1", "10.0.0.2"]


async def test_second_plan_points_the_endpoint_and_the_rollback_in_one_batch(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 2))
    enactor, events, _ = lab.enactor("enactor-b")
    await apply_plan(enactor, Legacy(), plan(2))
    assert (lab.admin.alias_target(EP), lab.admin.alias_target(ROLLBACK)) == (plan_set(2), plan_set(1))
    assert lab.admin.serial == 4  # record set 1, point 1, record set 2, point 2 + rollback in ONE batch
    assert events.of("check_passed") == [("check_passed", "plan-000002", None, {"endpoint": EP, "live": "plan-000001"})]
    assert events.of("endpoint_pointed") == [
        ("endpoint_pointed", "plan-000002", 1, {"endpoint": EP, "rollback": "plan-000001", "change_id": "C000004"})
    ]


@pytest.mark.parametrize("generation", [5, 3])
async def test_a_plan_not_newer_than_live_is_skipped_without_lock_or_write(lab: Lab, generation: int) -> None:
    await lab.apply_in_order(range(1, 6))
    before = dict(lab.admin.zone)
    enactor, events, lock = lab.enactor("enactor-b")
    await apply_plan(enactor, Legacy(), plan(generation))
    assert events.events == [("plan_skipped", f"plan-{generation:06d}", None,
                              {"endpoint": EP, "live": "plan-000005", "why": "not newer than the live plan"})]
    assert lab.admin.zone == before
    assert lock.attempts == 0


async def test_a_plan_for_two_endpoints_checks_both_then_walks_them_one_batch_each(lab: Lab) -> None:
    enactor, events, _ = lab.enactor()
    await apply_plan(enactor, Legacy(), plan(1, endpoints=(EP, EP6)))
    assert (lab.admin.alias_target(EP), lab.admin.alias_target(EP6)) == (plan_set(1), plan_set(1, EP6))
    assert [(kind, detail["endpoint"]) for kind, _, _, detail in events.events if kind != "apply_finished"] == [
        ("check_passed", EP), ("check_passed", EP6),
        ("lock_acquired", EP), ("record_set_written", EP), ("endpoint_pointed", EP), ("lock_released", EP),
        ("lock_acquired", EP6), ("record_set_written", EP6), ("endpoint_pointed", EP6), ("lock_released", EP6),
    ]


# --- cleanup -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_generations", [1, 3, 5])
async def test_cleanup_in_order_leaves_exactly_the_last_k_plus_one_plan_sets(lab: Lab, keep_generations: int) -> None:
    enactor, events, _ = lab.enactor(keep_generations=keep_generations)
    for generation in range(1, 11):
        await apply_plan(enactor, Legacy(), plan(generation))
        assert lab.admin.plan_generations() == list(range(max(1, generation - keep_generations), generation + 1))
    assert len(lab.admin.plan_generations()) == keep_generations + 1
    deleted = [victim for _, victim, _, _ in events.of("cleanup_deleted")]
    assert deleted == [f"plan-{g:06d}" for g in range(1, 10 - keep_generations)]


async def test_cleanup_deletes_only_this_endpoints_plans_older_than_the_window(lab: Lab) -> None:
    unrelated = RecordSet.a("www.lab.test", 60, [ARecord("10.9.9.9", 1)])
    lab.admin.operator(
        *(Change("CREATE", RecordSet.a(plan_set(g), 1, [ARecord("10.0.0.1", 1)])) for g in (1, 3, 5, 6, 8)),
        Change("CREATE", RecordSet.a(plan_set(1, EP6), 1, [ARecord("10.0.0.1", 1)])),
        Change("CREATE", unrelated),
        Change("CREATE", RecordSet.alias(EP, plan_set(8))),
        Change("CREATE", RecordSet.alias(plan_set(2), plan_set(8))),  # named like a plan, but not a plan set
    )
    enactor, events, _ = lab.enactor(keep_generations=3)
    await apply_plan(enactor, Legacy(), plan(9))
    assert lab.admin.plan_generations() == [6, 8, 9]
    assert lab.admin.plan_generations(EP6) == [1]
    assert lab.admin.zone[("www.lab.test", "A")] == unrelated
    assert lab.admin.alias_target(plan_set(2)) == plan_set(8)
    assert [(victim, detail["after"], detail["keep_generations"]) for _, victim, _, detail in
            events.of("cleanup_deleted")] == [("plan-000001", "plan-000009", 3), ("plan-000003", "plan-000009", 3),
                                              ("plan-000005", "plan-000009", 3)]


async def test_cleanup_of_a_plan_another_enactor_already_deleted_is_not_an_error(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 5))
    # Between this cleanup's listing and its DELETE, another enactor's cleanup removes plan 1.
    lab.admin.after_list = lambda: lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(1), "A")]))
    enactor, events, _ = lab.enactor("enactor-b")
    await apply_plan(enactor, Legacy(), plan(5))
    assert events.of("cleanup_already_gone") == [
        ("cleanup_already_gone", "plan-000001", None, {"endpoint": EP, "after": "plan-000005"})
    ]
    assert events.of("cleanup_deleted") == []
    assert lab.admin.plan_generations() == [2, 3, 4, 5]


# --- the incident ------------------------------------------------------------------------------------


async def test_the_incident_in_miniature_a_slow_enactor_then_cleanup_then_every_enactor_crashes(lab: Lab) -> None:
    # How the race is reproduced, honestly: two real apply_plan coroutines interleaved with events,
    # no stale reads faked. Enactor B reads the zone and checks plan 2 while the zone is still empty
    # (its check is true then), and is then stuck in lock acquisition (GatedLock stands in for a long
    # run of refusals and backoff). Enactor A applies plans 1..10 meanwhile. Enactor C applies plan 11
    # and is paused between releasing the lock and its cleanup; B is let through exactly then, and
    # points the endpoint backwards at plan 2, acting on its ancient check. C's cleanup resumes.
    b_lock = GatedLock("enactor-b", first_token=100)
    b, b_events, _ = lab.enactor("enactor-b", lock=b_lock)
    slow = asyncio.create_task(apply_plan(b, Legacy(), plan(2)))
    await b_lock.waiting.wait()
    assert b_events.events == [("check_passed", "plan-000002", None, {"endpoint": EP, "live": None})]

    await lab.apply_in_order(range(1, 11), keep_generations=3)
    assert (lab.admin.alias_target(EP), lab.admin.plan_generations()) == (plan_set(10), [7, 8, 9, 10])

    c_lock = PausingLock("enactor-c", first_token=200)
    c, c_events, _ = lab.enactor("enactor-c", lock=c_lock, keep_generations=3)
    fast = asyncio.create_task(apply_plan(c, Legacy(), plan(11)))
    await c_lock.paused.wait()
    assert lab.admin.alias_target(EP) == plan_set(11)

    b_lock.opened.set()
    await slow
    assert lab.admin.alias_target(EP) == plan_set(2)   # the endpoint went backwards from 11 to 2

    c_lock.resume.set()
    await fast
    assert [victim for _, victim, _, _ in c_events.of("cleanup_deleted")] == ["plan-000002", "plan-000007"]
    assert lab.admin.alias_target(EP) == plan_set(2)
    assert (plan_set(2), "A") not in lab.admin.zone
    assert lab.admin.answers(EP) == []                  # the outage: the endpoint answers nothing

    # The history reads in the order a responder needs: B's check long before its write, and C's
    # cleanup of plan 2 after B pointed the endpoint at it.
    order = [(service, kind, plan_) for service, kind, plan_ in lab.history
             if (service, kind) in {("enactor-b", "check_passed"), ("enactor-b", "endpoint_pointed"),
                                    ("enactor-c", "endpoint_pointed"), ("enactor-c", "cleanup_deleted")}]
    assert order == [("enactor-b", "check_passed", "plan-000002"), ("enactor-c", "endpoint_pointed", "plan-000011"),
                     ("enactor-b", "endpoint_pointed", "plan-000002"), ("enactor-c", "cleanup_deleted", "plan-000002"),
                     ("enactor-c", "cleanup_deleted", "plan-000007")]

    # Every enactor that comes next fails the same way: its rollback alias names the deleted plan 2.
    for service, generation in (("enactor-a", 12), ("enactor-b", 13)):
        enactor, events, lock = lab.enactor(service)
        with pytest.raises(AliasTargetMissing) as failure:
            await apply_plan(enactor, Legacy(), plan(generation))
        rejected_batch, rejected_error = lab.admin.rejected[-1]
        assert failure.value is rejected_error
        assert failure.value.change_index == 1
        assert rejected_batch.changes == (Change("UPSERT", RecordSet.alias(EP, plan_set(generation))),
                                          Change("UPSERT", RecordSet.alias(ROLLBACK, plan_set(2))))
        assert events.kinds() == ["check_passed", "lock_acquired", "record_set_written", "lock_released"]
        assert lock.released == [Lease(service, 1)]
        # B built its rollback from what the endpoint pointed at when B wrote (plan 11), not when it checked.
        assert (lab.admin.alias_target(EP), lab.admin.alias_target(ROLLBACK)) == (plan_set(2), plan_set(11))
        assert lab.admin.answers(EP) == []
    assert lab.admin.plan_generations() == [8, 9, 10, 11, 12, 13]


async def test_a_manual_deletion_of_the_live_plan_alone_stops_the_next_apply(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 6), keep_generations=3)
    assert (lab.admin.alias_target(EP), lab.admin.alias_target(ROLLBACK)) == (plan_set(5), plan_set(4))
    lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(5), "A")]))  # an operator's mistake, no race
    assert lab.admin.answers(EP) == []
    enactor, events, _ = lab.enactor("enactor-b")
    with pytest.raises(AliasTargetMissing, match=f"change 1: UPSERT ALIAS {ROLLBACK} -> {plan_set(5)}"):
        await apply_plan(enactor, Legacy(), plan(6))
    assert (lab.admin.alias_target(EP), lab.admin.alias_target(ROLLBACK)) == (plan_set(5), plan_set(4))
    assert events.kinds() == ["check_passed", "lock_acquired", "record_set_written", "lock_released"]


# --- the lock ----------------------------------------------------------------------------------------


async def test_a_busy_lock_is_retried_with_backoff_then_acquired(lab: Lab, no_backoff_wait: list[float]) -> None:
    enactor, events, lock = lab.enactor(lock=FakeLock(refusals=3), lock_attempts_max=5)
    await apply_plan(enactor, Legacy(), plan(1))
    replay = random.Random(7)
    delays_ms = [backoff_ms(attempt, base_ms=100, cap_ms=3000, rng=replay) for attempt in range(3)]
    assert events.events[1:5] == [
        *(("lock_refused", "plan-000001", None, {"endpoint": EP, "held_by": "enactor-b:41", "attempt": n + 1,
                                                 "retry_in_ms": delays_ms[n]}) for n in range(3)),
        ("lock_acquired", "plan-000001", 1, {"endpoint": EP, "attempt": 4}),
    ]
    assert no_backoff_wait == [delay / 1000 for delay in delays_ms]
    assert lab.admin.alias_target(EP) == plan_set(1)


async def test_a_lock_refused_every_time_gives_up_without_writing(lab: Lab, no_backoff_wait: list[float]) -> None:
    enactor, events, lock = lab.enactor(lock=FakeLock(refusals=5), lock_attempts_max=5)
    await apply_plan(enactor, Legacy(), plan(1))
    assert events.kinds() == ["check_passed", *["lock_refused"] * 5, "lock_gave_up"]
    assert events.events[-1] == ("lock_gave_up", "plan-000001", None, {"endpoint": EP, "attempts": 5})
    assert (lock.attempts, lock.released, lab.admin.zone) == (5, [], {})


async def test_a_lock_that_expired_before_release_is_reported(lab: Lab) -> None:
    enactor, events, _ = lab.enactor(lock=FakeLock(expired=True, first_token=42))
    await apply_plan(enactor, Legacy(), plan(1))
    assert events.events[-2:] == [("lock_expired_before_release", "plan-000001", 42, {"endpoint": EP}),
                                  ("apply_finished", "plan-000001", None, {"cleaned": []})]
    assert "lock_released" not in events.kinds()
    assert lab.admin.alias_target(EP) == plan_set(1)  # legacy never learns its write was unprotected


# --- run_apply_loop ----------------------------------------------------------------------------------


async def test_the_loop_refuses_a_malformed_plan_with_an_event_and_keeps_running(lab: Lab, alive_file: Path) -> None:
    stop = asyncio.Event()
    plans = FakePlans([MalformedPlan("plan is not JSON: Expecting value")], stop)
    enactor, events, lock = lab.enactor(plans=plans)
    await run_apply_loop(enactor, Legacy(), stop=stop)
    assert events.events == [
        ("enactor_started", None, None, {"mode": "legacy", "keep_generations": 3}),
        ("plan_rejected", None, None, {"error": "plan is not JSON: Expecting value"}),
    ]
    assert (plans.calls, lock.attempts, lab.admin.zone) == (1, 0, {})
    assert alive_file.exists()


async def test_the_loop_applies_each_new_generation_once(lab: Lab) -> None:
    stop = asyncio.Event()
    plans = FakePlans([None, plan(1), plan(1), plan(2)], stop)
    enactor, events, _ = lab.enactor(plans=plans)
    await run_apply_loop(enactor, Legacy(), stop=stop)
    assert [plan_ for kind, plan_, _, _ in events.events if kind == "check_passed"] == ["plan-000001", "plan-000002"]
    assert (plans.calls, enactor.last_generation, lab.admin.alias_target(EP)) == (4, 2, plan_set(2))


async def test_the_loop_lets_the_legacy_crash_escape(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 6))
    lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(5), "A")]))
    stop = asyncio.Event()
    enactor, _, _ = lab.enactor("enactor-b", plans=FakePlans([plan(6), plan(7)], stop))
    with pytest.raises(AliasTargetMissing):
        await run_apply_loop(enactor, Legacy(), stop=stop)
    assert not stop.is_set()  # it died on plan 6 and never asked for plan 7


async def test_an_idle_pass_sweeps_a_plan_written_late_relative_to_the_newest_plan_applied(lab: Lab) -> None:
    # The sweep that turns the race into an outage: a slow enactor wrote plan 2 (and pointed the
    # endpoint at it) after this enactor applied plan 7; with no new plan, the idle pass still cleans.
    await lab.apply_in_order(range(1, 8), keep_generations=3)
    late = RecordSet.a(plan_set(2), 1, [ARecord("10.0.0.3", 1)])
    lab.admin.zone[(plan_set(2), "A")] = late
    lab.admin.zone[(EP, "ALIAS")] = RecordSet.alias(EP, plan_set(2))
    stop = asyncio.Event()
    enactor, events, lock = lab.enactor("enactor-b", plans=FakePlans([plan(7)], stop))
    enactor.last_generation, enactor.last_applied = 7, plan(7)
    await run_apply_loop(enactor, Legacy(), stop=stop)
    assert [(kind, plan_) for kind, plan_, _, _ in events.events] == [
        ("enactor_started", None), ("cleanup_deleted", "plan-000002")]
    assert lock.attempts == 0
    assert lab.admin.answers(EP) == []  # the endpoint aliases a plan that no longer exists
