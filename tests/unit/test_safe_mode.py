"""Safe mode: its pure decisions on hand-built facts, then the loop in safe mode through the fakes.

Every batch safe builds is judged by dns-admin's own rules (dnsrace.batch_rules.apply_changes), so
"the stale write is refused" means dns-admin refused it, exactly as it would over HTTP.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.exceptions

from dnsrace.dns_admin_client import DnsAdminUnavailable
from dnsrace.records import (ARecord, AliasTargetMissing, Change, InvalidInput, RecordSet, RecordSetExists,
                             RecordSetMismatch, RecordSetMissing)
from dnsrace.batch_rules import apply_changes
from dnsrace_enactor import apply_loop, legacy, safe
from dnsrace_enactor.apply_loop import apply_and_clean, one_pass, run_apply_loop
from dnsrace_enactor.facts import Facts, InvariantRefused, StateUnreasonable
from enactor_fakes import EP, ROLLBACK, FakePlans, GatedLock, Lab, PausingLock, plan, plan_set


def a_set(generation: int) -> RecordSet:
    return RecordSet.a(plan_set(generation), 1, [ARecord(f"10.0.0.{generation}", 1)])


def facts(live: int | None, rollback: int | None, *existing: int) -> Facts:
    """The endpoint aliases plan `live`, the rollback plan `rollback`; these plan sets exist."""
    return Facts(EP, RecordSet.alias(EP, plan_set(live)) if live else None,
                 RecordSet.alias(ROLLBACK, plan_set(rollback)) if rollback else None,
                 {g: a_set(g) for g in existing})


def zone_of(f: Facts) -> dict[tuple[str, str], RecordSet]:
    sets = [f.endpoint_alias, f.rollback_alias, *f.plan_sets.values()]
    return {s.key: s for s in sets if s is not None}


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture(autouse=True)
def alive_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "enactor-alive"
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(path))
    return path


# --- the write: compare-and-swap, forward only ---------------------------------------------------------


def test_the_point_batch_deletes_exactly_what_was_checked_and_creates_the_new_alias() -> None:
    checked = facts(9, 8, 8, 9, 10)
    assert safe.point_batch(plan(10), checked, checked) == (
        Change("DELETE", RecordSet.alias(EP, plan_set(9))),
        Change("CREATE", RecordSet.alias(EP, plan_set(10))),
        Change("DELETE", RecordSet.alias(ROLLBACK, plan_set(8))),
        Change("CREATE", RecordSet.alias(ROLLBACK, plan_set(9))),
    )


def test_a_write_checked_long_ago_is_refused_by_dns_admin_once_the_endpoint_has_moved() -> None:
    checked = facts(109, 108, 108, 109, 110)          # what the slow enactor saw at its check
    now = facts(150, 149, 110, 145, 146, 147, 148, 149, 150)  # what the zone is when its write arrives
    batch = safe.point_batch(plan(110), checked, now)
    with pytest.raises(RecordSetMismatch) as refused:
        apply_changes(zone_of(now), batch)
    assert refused.value.change_index == 0             # the DELETE of the alias it checked
    assert "value does not match the current value (-> plan-000150" in refused.value.message
    # Legacy, given the same two reads, overwrites: the endpoint goes back to plan 110.
    overwritten = apply_changes(zone_of(now), legacy.point_batch(plan(110), checked, now))
    assert overwritten[(EP, "ALIAS")].target == plan_set(110)


def test_the_first_plan_creates_the_alias_so_a_concurrent_first_write_is_refused_too() -> None:
    empty = facts(None, None, 1)
    assert safe.point_batch(plan(1), empty, empty) == (Change("CREATE", RecordSet.alias(EP, plan_set(1))),)
    someone_else = zone_of(facts(2, None, 1, 2))
    with pytest.raises(Exception, match="already exists"):
        apply_changes(someone_else, safe.point_batch(plan(1), empty, empty))


@pytest.mark.parametrize("live", [11, 12])
def test_a_plan_older_than_the_checked_endpoint_is_refused_as_an_invariant(live: int) -> None:
    checked = facts(live, None, live)
    with pytest.raises(InvariantRefused, match=f"plan-000010 would move {EP} back from plan-0000{live}"):
        safe.point_batch(plan(10), checked, checked)


def test_pointing_at_the_plan_already_live_is_no_batch_at_all() -> None:
    f = facts(10, 9, 9, 10)
    assert safe.point_batch(plan(10), f, f) == ()


# --- the rollback: empty when the previous plan is gone -----------------------------------------------


def test_a_missing_previous_plan_gives_an_empty_rollback_and_the_batch_is_accepted() -> None:
    checked = facts(110, 109, 145, 146)                # the endpoint aliases plan 110, which is gone
    batch = safe.point_batch(plan(146), checked, checked)
    assert batch == (Change("DELETE", RecordSet.alias(EP, plan_set(110))),
                     Change("CREATE", RecordSet.alias(EP, plan_set(146))),
                     Change("DELETE", RecordSet.alias(ROLLBACK, plan_set(109))))
    after = apply_changes(zone_of(checked), batch)
    assert after[(EP, "ALIAS")].target == plan_set(146) and (ROLLBACK, "ALIAS") not in after
    with pytest.raises(AliasTargetMissing):            # legacy's batch for the same facts
        apply_changes(zone_of(checked), legacy.point_batch(plan(146), checked, checked))


def test_a_previous_plan_deleted_after_the_check_fails_the_batch_rather_than_dangle() -> None:
    checked = facts(9, None, 9, 10)
    now = facts(9, None, 10)                           # plan 9 deleted between check and write
    with pytest.raises(AliasTargetMissing):
        apply_changes(zone_of(now), safe.point_batch(plan(10), checked, now))


# --- cleanup: never what is referenced, checked in the same batch --------------------------------------


def test_cleanup_spares_the_plans_the_endpoint_and_the_rollback_point_at() -> None:
    chosen = safe.cleanup(facts(2, 1, 1, 2, 3, 9, 10), plan(10), keep_generations=3)
    assert chosen.victims == (3,)
    assert dict(chosen.spared) == {1: "the rollback record points at it", 2: "the endpoint points at it"}
    assert legacy.cleanup(facts(2, 1, 1, 2, 3, 9, 10), plan(10), keep_generations=3).victims == (1, 2, 3)


@pytest.mark.parametrize("moved", ["endpoint", "rollback"])
def test_a_cleanup_batch_fails_if_a_reference_moved_onto_its_victim_since_the_listing(moved: str) -> None:
    listed = facts(10, 9, 3, 9, 10)
    batch = safe.cleanup_batch(listed, a_set(3))
    assert batch[-1] == Change("DELETE", a_set(3))
    assert apply_changes(zone_of(listed), batch).keys() == zone_of(facts(10, 9, 9, 10)).keys()
    now = facts(3, 9, 3, 9, 10) if moved == "endpoint" else facts(10, 3, 3, 9, 10)
    with pytest.raises(RecordSetMismatch):
        apply_changes(zone_of(now), batch)


def test_a_cleanup_batch_asserts_an_absent_rollback_is_still_absent() -> None:
    listed = facts(10, None, 3, 10)
    batch = safe.cleanup_batch(listed, a_set(3))
    assert apply_changes(zone_of(listed), batch).keys() == zone_of(facts(10, None, 10)).keys()
    with pytest.raises(Exception, match="already exists"):
        apply_changes(zone_of(facts(10, 3, 3, 10)), batch)


# --- errors, odd states, and what DNS answers ----------------------------------------------------------


@pytest.mark.parametrize("error, verdict", [
    (RecordSetMismatch("change 0: ..."), "retry"), (AliasTargetMissing("change 3: ..."), "retry"),
    (DnsAdminUnavailable("timeout"), "retry"), (TimeoutError(), "retry"), (ConnectionError("reset"), "retry"),
    (redis.exceptions.ConnectionError("Redis gone"), "retry"), (redis.exceptions.TimeoutError(), "retry"),
    (InvalidInput("change 0: bad"), "freeze"), (StateUnreasonable("odd"), "freeze"),
    (InvariantRefused("backwards"), "freeze"), (KeyError("never expected"), "freeze"),
])
def test_no_error_is_fatal_each_is_a_retry_or_a_freeze(error: Exception, verdict: str) -> None:
    assert safe.on_error(error) == verdict
    with pytest.raises(type(error)):
        legacy.on_error(error)


def test_an_endpoint_aliasing_something_that_is_no_plan_is_a_state_safe_will_not_reason_about() -> None:
    odd = Facts(EP, RecordSet.alias(EP, "www.lab.test"), None, {})
    assert safe.cannot_reason_about(odd) == f"{EP} aliases www.lab.test, which is not one of its plans"
    assert legacy.cannot_reason_about(odd) is None
    assert safe.cannot_reason_about(facts(3, 2, 2, 3)) is None


def test_only_safe_sees_why_an_empty_answer_is_empty_and_wants_the_lost_live_plan_back() -> None:
    lost = facts(10, 9, 9)
    assert safe.repair_needed(lost) == f"{plan_set(10)} does not exist"
    assert safe.repair_needed(facts(None, None)) == f"{EP} has no alias"
    assert safe.repair_needed(facts(10, 9, 9, 10)) is None
    assert legacy.repair_needed(lost) is None
    assert safe.should_apply(plan(10), lost) and not legacy.should_apply(plan(10), lost)
    assert not safe.should_apply(plan(10), facts(10, 9, 9, 10))


# --- the loop in safe mode ------------------------------------------------------------------------------


async def test_the_incident_in_miniature_in_safe_mode_nothing_goes_back_nothing_referenced_is_deleted(
        lab: Lab) -> None:
    # The legacy test's interleaving, move for move: B checks plan 2 on an empty zone and stalls in the
    # lock; A applies 1..10; C applies 11 and pauses before its cleanup; B is let through.
    b_lock = GatedLock("enactor-b", first_token=100)
    b, b_events, _ = lab.enactor("enactor-b", lock=b_lock)
    slow = asyncio.create_task(apply_and_clean(b, safe, plan(2)))
    await b_lock.waiting.wait()
    await lab.apply_in_order(range(1, 11), keep_generations=3, mode=safe)
    c_lock = PausingLock("enactor-c", first_token=200)
    c, c_events, _ = lab.enactor("enactor-c", lock=c_lock, keep_generations=3)
    fast = asyncio.create_task(apply_and_clean(c, safe, plan(11)))
    await c_lock.paused.wait()

    b_lock.opened.set()
    # B checked an empty zone, so its conditional write is "CREATE the alias": dns-admin refuses the
    # whole batch, because the alias exists now. (Had B checked plan 1, the DELETE would mismatch.)
    with pytest.raises(RecordSetExists):
        await slow
    assert lab.admin.alias_target(EP) == plan_set(11)
    assert [kind for kind, _, _, _ in b_events.events][-2:] == ["record_set_written", "lock_released"]

    c_lock.resume.set()
    await fast
    assert lab.admin.alias_target(EP) == plan_set(11) and lab.admin.alias_target(ROLLBACK) == plan_set(10)
    assert lab.admin.answers(EP) == ["10.0.0.12"]      # never empty
    assert {plan_set(10), plan_set(11)} <= {name for name, _ in lab.admin.zone}

    # B's next pass (the loop's retry with fresh facts) finds plan 2 stale and skips it: no crash.
    stop = asyncio.Event()
    b.plans = FakePlans([plan(2)], stop)  # type: ignore[assignment]
    await one_pass(b, safe)
    assert b_events.events[-1][:2] == ("plan_skipped", "plan-000002")


async def test_a_refused_write_is_an_event_a_backoff_and_a_retry_never_a_crash(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 4), mode=safe)
    stop = asyncio.Event()
    enactor, events, _ = lab.enactor("enactor-b", plans=FakePlans([plan(4), plan(4), plan(4)], stop))
    refuse_once = {"left": 1}
    real_submit = lab.admin.submit

    async def submit(batch):  # type: ignore[no-untyped-def]
        if refuse_once["left"] and any(c.record_set.name == EP for c in batch.changes):
            refuse_once["left"] = 0
            raise RecordSetMismatch("change 0: DELETE ALIAS ...: value does not match", change_index=0)
        return await real_submit(batch)

    lab.admin.submit = submit  # type: ignore[method-assign]
    await run_apply_loop(enactor, safe, stop=stop)
    kinds = events.kinds()
    assert "write_refused" in kinds and "enactor_crashed" not in kinds
    failed = events.of("write_refused")[0]
    assert failed[1] == "plan-000004" and failed[3]["failures"] == 1 and failed[3]["retry_in_ms"] >= 0
    assert failed[3]["error"].startswith("RecordSetMismatch: change 0")
    assert kinds.index("write_refused") < kinds.index("endpoint_pointed")
    assert lab.admin.alias_target(EP) == plan_set(4)


async def test_retries_are_bounded_then_the_plan_is_given_up(lab: Lab) -> None:
    stop = asyncio.Event()
    enactor, events, _ = lab.enactor(plans=FakePlans([plan(1)] * 4, stop))

    async def unavailable(batch):  # type: ignore[no-untyped-def]
        raise DnsAdminUnavailable("POST /v1/changes: timeout")

    lab.admin.submit = unavailable  # type: ignore[method-assign]
    await run_apply_loop(enactor, safe, stop=stop)
    # Three failed passes on plan 1 and it is given up; the fourth pass has no new plan, but the
    # self-check finds the endpoint still empty and tries again, with the count started afresh.
    assert [d["failures"] for _, _, _, d in events.of("apply_failed")] == [1, 2, 3, 1]
    assert events.of("apply_gave_up") == [("apply_gave_up", "plan-000001", None, {"failures": 3})]
    assert events.of("endpoint_empty_found")[0][3]["why"] == f"{EP} has no alias"
    assert enactor.last_generation == 1 and "enactor_crashed" not in events.kinds()


async def test_an_odd_state_freezes_writes_with_one_alarm_and_thaws_when_it_is_gone(lab: Lab) -> None:
    lab.admin.operator(Change("CREATE", RecordSet.a("www.lab.test", 60, [ARecord("10.9.9.9", 1)])),
                       Change("CREATE", RecordSet.alias(EP, "www.lab.test")))
    stop = asyncio.Event()
    enactor, events, lock = lab.enactor(plans=FakePlans([plan(1)] * 4, stop))
    await run_apply_loop(enactor, safe, stop=stop)
    frozen = events.of("enactor_frozen")
    assert len(frozen) == 1 and frozen[0][3]["alarm"] is True           # one alarm for four passes
    assert frozen[0][3]["why"] == f"StateUnreasonable: {EP} aliases www.lab.test, which is not one of its plans"
    assert lock.attempts == 0 and lab.admin.alias_target(EP) == "www.lab.test"  # no write while frozen

    lab.admin.operator(Change("DELETE", RecordSet.alias(EP, "www.lab.test")))
    stop = asyncio.Event()
    enactor.plans = FakePlans([plan(1)], stop)  # type: ignore[assignment]
    await run_apply_loop(enactor, safe, stop=stop)
    assert events.of("enactor_unfrozen")[0][3]["was"] == frozen[0][3]["why"]
    assert lab.admin.alias_target(EP) == plan_set(1)


async def test_a_manual_deletion_of_the_live_plan_is_found_by_the_self_check_and_repaired(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 6), keep_generations=3, mode=safe)
    lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(5), "A")]))  # no newer plan yet
    assert lab.admin.answers(EP) == []
    enactor, events, _ = lab.enactor("enactor-b", plans=FakePlans([plan(5)], asyncio.Event()))
    enactor.last_generation = 5
    await one_pass(enactor, safe)
    assert events.of("endpoint_empty_found")[0][3]["why"] == f"{plan_set(5)} does not exist"
    assert "endpoint_unchanged" in events.kinds()      # it restored plan 5's record set; the alias stays
    assert lab.admin.answers(EP) == ["10.0.0.6"]
    assert lab.admin.alias_target(ROLLBACK) == plan_set(4)


async def test_legacy_never_asks_dns_and_never_repairs(lab: Lab) -> None:
    await lab.apply_in_order(range(1, 6), keep_generations=3)
    lab.admin.operator(Change("DELETE", lab.admin.zone[(plan_set(5), "A")]))
    enactor, events, _ = lab.enactor("enactor-b", plans=FakePlans([plan(5)], asyncio.Event()))
    enactor.last_generation = 5
    await one_pass(enactor, legacy)
    assert enactor.resolver.queries == 0 and events.events == []  # type: ignore[union-attr]
    assert lab.admin.answers(EP) == []


@pytest.mark.parametrize("gone", ["victim", "rollback"])
async def test_a_cleanup_that_finds_its_victim_gone_is_done_but_a_moved_reference_is_a_failure(
        lab: Lab, gone: str) -> None:
    await lab.apply_in_order(range(1, 5), mode=safe)
    listings = lab.admin.listings
    name = plan_set(1) if gone == "victim" else ROLLBACK

    def meanwhile() -> None:  # between this cleanup's listing (the apply's third) and its batch
        if lab.admin.listings - listings == 3:
            lab.admin.operator(Change("DELETE", lab.admin.zone[(name, "A" if gone == "victim" else "ALIAS")]))

    lab.admin.after_list = meanwhile
    enactor, events, _ = lab.enactor("enactor-b")
    if gone == "victim":
        await apply_and_clean(enactor, safe, plan(5))
        assert [e[1] for e in events.of("cleanup_already_gone")] == ["plan-000001"]
    else:
        with pytest.raises(RecordSetMissing) as failed:
            await apply_and_clean(enactor, safe, plan(5))
        assert failed.value.change_index == 2 and safe.on_error(failed.value) == "retry"
        assert (plan_set(1), "A") in lab.admin.zone
