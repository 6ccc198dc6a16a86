"""The apply loop in legacy mode (apply_loop.py + legacy.py), driven through in-memory fakes.

The fake dns-admin judges every batch with dns-admin's own rules (dnsrace.batch_rules.apply_changes),
so "alias to a missing target is rejected" and "DELETE must match exactly" are the real behaviour,
not a re-implementation. The other fakes are scripted: a lock, a plan store and an event recorder.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from dnsrace.lock import Lease
from dnsrace.plans import MalformedPlan
from dnsrace.records import AliasTargetMissing, ARecord, Change, RecordSet
from dnsrace.rules import backoff_ms
from dnsrace_enactor import apply_loop, legacy
from dnsrace_enactor.apply_loop import apply_and_clean, run_apply_loop
from enactor_fakes import EP, EP6, ROLLBACK, FakeLock, FakePlans, GatedLock, Lab, PausingLock, plan, plan_set

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
    await apply_and_clean(enactor, legacy, plan(1, "10.0.0.1", "10.0.0.2"))
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
    await apply_and_clean(enactor, legacy, plan(2))
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
    await apply_and_clean(enactor, legacy, plan(generation))
    assert events.events == [("plan_skipped", f"plan-{generation:06d}", None,
                              {"endpoint": EP, "live": "plan-000005", "why": "not newer than the live plan"})]
    assert lab.admin.zone == before
    assert lock.attempts == 0


async def test_a_plan_for_two_endpoints_checks_both_then_walks_them_one_batch_each(lab: Lab) -> None:
    enactor, events, _ = lab.enactor()
    await apply_and_clean(enactor, legacy, plan(1, endpoints=(EP, EP6)))
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
        await apply_and_clean(enactor, legacy, plan(generation))
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
    await apply_and_clean(enactor, legacy, plan(9))
    assert lab.admin.plan_generations() == [6, 8, 9]
    assert lab.admin.plan_generations(EP6) == [1]
    assert lab.admin.zone[("www.lab.test", "A")] == unrelated
    assert lab.admin.alias_target(plan_set(2)) == plan_set(8)
    assert [(victim, detail["after"], detail["keep_generations"]) for _, victim, _, detail in
            events.of("cleanup_deleted")] == [("plan-000001", "plan-000009", 3), ("plan-000003", "plan-000009", 3),
                                              ("plan-000005", "plan-000009", 3)]


async def test_cleanup_of_a_plan_another_enactor_already_deleted_is_not_an_error(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 5))
    # Between this cleanup's listing (the apply's third: check, point, cleanup) and its DELETE,
    # another enactor's cleanup removes plan 1.
    listings = lab.admin.listings

    def another_cleanup() -> None:
        if lab.admin.listings - listings == 3:
            lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(1), "A")]))

    lab.admin.after_list = another_cleanup
    enactor, events, _ = lab.enactor("enactor-b")
    await apply_and_clean(enactor, legacy, plan(5))
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
    slow = asyncio.create_task(apply_and_clean(b, legacy, plan(2)))
    await b_lock.waiting.wait()
    assert b_events.events == [("check_passed", "plan-000002", None, {"endpoint": EP, "live": None})]

    await lab.apply_in_order(range(1, 11), keep_generations=3)
    assert (lab.admin.alias_target(EP), lab.admin.plan_generations()) == (plan_set(10), [7, 8, 9, 10])

    c_lock = PausingLock("enactor-c", first_token=200)
    c, c_events, _ = lab.enactor("enactor-c", lock=c_lock, keep_generations=3)
    fast = asyncio.create_task(apply_and_clean(c, legacy, plan(11)))
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
            await apply_and_clean(enactor, legacy, plan(generation))
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
        await apply_and_clean(enactor, legacy, plan(6))
    assert (lab.admin.alias_target(EP), lab.admin.alias_target(ROLLBACK)) == (plan_set(5), plan_set(4))
    assert events.kinds() == ["check_passed", "lock_acquired", "record_set_written", "lock_released"]


# --- the lock ----------------------------------------------------------------------------------------


async def test_a_busy_lock_is_retried_with_backoff_then_acquired(lab: Lab, no_backoff_wait: list[float]) -> None:
    enactor, events, lock = lab.enactor(lock=FakeLock(refusals=3), lock_attempts_max=5)
    await apply_and_clean(enactor, legacy, plan(1))
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
    await apply_and_clean(enactor, legacy, plan(1))
    assert events.kinds() == ["check_passed", *["lock_refused"] * 5, "lock_gave_up"]
    assert events.events[-1] == ("lock_gave_up", "plan-000001", None, {"endpoint": EP, "attempts": 5})
    assert (lock.attempts, lock.released, lab.admin.zone) == (5, [], {})


async def test_a_lock_that_expired_before_release_is_reported(lab: Lab) -> None:
    enactor, events, _ = lab.enactor(lock=FakeLock(expired=True, first_token=42))
    await apply_and_clean(enactor, legacy, plan(1))
    assert events.events[-2:] == [("lock_expired_before_release", "plan-000001", 42, {"endpoint": EP}),
                                  ("apply_finished", "plan-000001", None, {"cleaned": []})]
    assert "lock_released" not in events.kinds()
    assert lab.admin.alias_target(EP) == plan_set(1)  # legacy never learns its write was unprotected


# --- run_apply_loop ----------------------------------------------------------------------------------


async def test_the_loop_refuses_a_malformed_plan_with_an_event_and_keeps_running(lab: Lab, alive_file: Path) -> None:
    stop = asyncio.Event()
    plans = FakePlans([MalformedPlan("plan is not JSON: Expecting value")], stop)
    enactor, events, lock = lab.enactor(plans=plans)
    await run_apply_loop(enactor, legacy, stop=stop)
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
    await run_apply_loop(enactor, legacy, stop=stop)
    assert [plan_ for kind, plan_, _, _ in events.events if kind == "check_passed"] == ["plan-000001", "plan-000002"]
    assert (plans.calls, enactor.last_generation, lab.admin.alias_target(EP)) == (4, 2, plan_set(2))


async def test_the_loop_lets_the_legacy_crash_escape(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 6))
    lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(5), "A")]))
    stop = asyncio.Event()
    enactor, _, _ = lab.enactor("enactor-b", plans=FakePlans([plan(6), plan(7)], stop))
    with pytest.raises(AliasTargetMissing):
        await run_apply_loop(enactor, legacy, stop=stop)
    assert not stop.is_set()  # it died on plan 6 and never asked for plan 7


async def test_cleanup_runs_after_an_apply_only_never_on_an_idle_pass(lab: Lab) -> None:
    # As in the incident: a plan set written late by a slow enactor (and the endpoint pointed at it)
    # is NOT swept by an enactor that has nothing new to apply; only the next apply's cleanup sees it.
    await lab.apply_in_order(range(1, 8), keep_generations=3)
    late = RecordSet.a(plan_set(2), 1, [ARecord("10.0.0.3", 1)])
    lab.admin.zone[(plan_set(2), "A")] = late
    lab.admin.zone[(EP, "ALIAS")] = RecordSet.alias(EP, plan_set(2))
    stop = asyncio.Event()
    enactor, events, lock = lab.enactor("enactor-b", plans=FakePlans([plan(7), plan(7), plan(7)], stop))
    enactor.last_generation = 7
    listings = lab.admin.listings
    await run_apply_loop(enactor, legacy, stop=stop)
    assert [(kind, plan_) for kind, plan_, _, _ in events.events] == [("enactor_started", None)]
    assert (lock.attempts, lab.admin.listings - listings) == (0, 0)  # idle: no lock, not even a listing
    assert lab.admin.zone[(plan_set(2), "A")] == late
    assert lab.admin.answers(EP) == ["10.0.0.3"]
