"""The console's tables (enactors, plans, timeline) and its repair batch, pure."""

from __future__ import annotations

import pytest

from dnsrace.records import ARecord, InvalidInput, RecordSet
from dnsrace_admin.console.panels import enactor_rows, plan_rows, timeline_rows
from dnsrace_admin.console.repair import (NoPlanToRepairWith, NothingToRepair, PlanMoved, describe, parse_request,
                                          repair_batch)
from dnsrace.batch_rules import apply_changes

from console_histories import EP, H, LEGACY_RACE, ROLLBACK, SAFE_RACE, now, plan, recorded


def test_enactors_in_the_legacy_outage_crash_loop_with_the_line_that_failed() -> None:
    events = recorded(LEGACY_RACE)
    rows = {row.service: row for row in enactor_rows(events, max(e.t for e in events) + 1)}
    assert set(rows) == {"enactor-a", "enactor-b", "enactor-c"}
    a = rows["enactor-a"]
    assert (a.mode, a.crashes, a.last_applied) == ("legacy", 2, "plan-000015")
    assert a.last_exception is not None and a.last_exception["exception"] == "AliasTargetMissing"
    assert a.last_exception["at"] == "services/enactor/dnsrace_enactor/legacy.py:42"
    assert {row.state for row in rows.values()} <= {"crash-looping", "crashed"}
    assert rows["enactor-b"].restarts == 2


def test_an_enactor_that_works_again_after_its_crashes_is_running_not_crash_looping() -> None:
    h = H()
    h.event(1.0, "enactor-b", "enactor_started", None, mode="legacy")
    h.crash(2.0, "enactor-b")
    h.crash(4.0, "enactor-b")
    assert enactor_rows(h.events, 5.5)[0].state == "crash-looping"    # restarted, not yet past its crash
    h.event(6.0, "enactor-b", "plan_skipped", "plan-000020", live="plan-000020")
    assert enactor_rows(h.events, 6.5)[0].state == "running"


def test_enactors_in_safe_mode_run_and_none_crashed() -> None:
    events = recorded(SAFE_RACE)
    rows = enactor_rows(events, max(e.t for e in events) + 1)
    assert {(row.state, row.crashes, row.restarts) for row in rows} == {("running", 0, 0)}


def test_a_quiet_enactor_is_silent_and_its_mode_is_remembered_past_the_window() -> None:
    h = H()
    started = h.event(1.0, "enactor-a", "enactor_started", None, mode="safe")
    h.event(2.0, "enactor-a", "plan_skipped", "plan-000001")
    [row] = enactor_rows(h.events[1:], now_t=60.0, remembered={"enactor-a": started})
    assert (row.mode, row.state, row.restarts) == ("safe", "silent", 0)


def test_a_frozen_enactor_says_so_until_it_thaws() -> None:
    h = H()
    h.event(1.0, "enactor-a", "enactor_started", None, mode="safe")
    h.event(2.0, "enactor-a", "enactor_frozen", None, why="odd")
    assert enactor_rows(h.events, 3.0)[0].state == "frozen"
    h.event(2.5, "enactor-a", "enactor_unfrozen", None, was="odd")
    assert enactor_rows(h.events, 3.0)[0].state == "running"


def test_plans_say_who_applied_and_who_deleted_them_and_where_the_zone_has_them() -> None:
    h = H()
    h.apply(1.0, "enactor-b", 10)
    h.apply(3.0, "enactor-c", 11, rollback=10)
    h.cleanup(3.5, "enactor-c", 10, after=11)
    rows = {row["plan"]: row for row in plan_rows(h.events, now(4.0, 11, [11], rollback=10), limit=10)}
    assert rows["plan-000011"]["applied_by"] == "enactor-c" and rows["plan-000011"]["live"] is True
    gone = rows["plan-000010"]
    assert (gone["deleted_by"], gone["deleted_how"], gone["exists"], gone["rollback"]) == (
        "enactor-c", "cleanup after plan-000011", False, True)
    assert list(rows) == ["plan-000011", "plan-000010"]     # newest first
    assert len(plan_rows(h.events, now(4.0, 11, [11]), limit=1)) == 1


def test_the_timeline_filters_by_service_and_plan_and_marks_the_chain() -> None:
    h = H()
    h.apply(1.0, "enactor-b", 10)
    h.apply(3.0, "enactor-c", 11, rollback=10)
    rows = timeline_rows(h.events, service="enactor-c", limit=100, chain=[h.events[-1].seq])
    assert {e["service"] for e in rows["events"]} == {"enactor-c"}
    assert [e["chain"] for e in rows["events"]] == [False, True]
    assert rows["events"][-1]["sentence"].startswith("pointed dynamodb.us-east-1.lab.test at plan-000011")
    by_plan = timeline_rows(h.events, plan="plan-000010", limit=100)
    assert by_plan["events"] and {e["plan"] for e in by_plan["events"]} == {"plan-000010"}
    assert len(timeline_rows(h.events, limit=2)["events"]) == 2 and rows["kept"] == len(h.events)


def test_event_text_stays_text_on_one_line() -> None:
    h = H()
    h.event(1.0, "lab", "fault_started", None, fault="<img src=x onerror=alert(1)>", target="a\nb", why="x")
    [row] = timeline_rows(h.events, limit=10)["events"]
    assert "<img src=x onerror=alert(1)>" in row["sentence"] and "\n" not in row["sentence"] and "\\n" in row["sentence"]


# --- the repair batch ---------------------------------------------------------------------------------

def zone(*record_sets: RecordSet) -> list[RecordSet]:
    return list(record_sets)


def a_set(generation: int) -> RecordSet:
    return RecordSet.a(plan(generation), 1, [ARecord("10.0.0.1", 1)])


def test_the_repair_points_at_the_newest_existing_plan_and_clears_the_rollback_as_a_compare_and_swap() -> None:
    sets = zone(a_set(16), a_set(17), RecordSet.alias(EP, plan(15)), RecordSet.alias(ROLLBACK, plan(14)))
    repair = repair_batch(sets, EP)
    assert (repair.plan, repair.before, repair.rollback_cleared) == ("plan-000017", plan(15), plan(14))
    assert [(c.action, c.record_set.name, c.record_set.target) for c in repair.batch.changes] == [
        ("DELETE", EP, plan(15)), ("CREATE", EP, plan(17)), ("DELETE", ROLLBACK, plan(14))]
    assert repair.batch.client == "operator"
    # dns-admin's own rules take it against the zone it was built from ...
    keyed = {(rs.name, rs.type): rs for rs in sets}
    after = apply_changes(keyed, repair.batch.changes, record_set_count_max=100)
    assert after[(EP, "ALIAS")].target == plan(17) and (ROLLBACK, "ALIAS") not in after
    # ... and refuse it once the endpoint moved meanwhile: nothing is repaired on stale facts.
    moved = dict(keyed) | {(EP, "ALIAS"): RecordSet.alias(EP, plan(16))}
    with pytest.raises(Exception) as refused:
        apply_changes(moved, repair.batch.changes, record_set_count_max=100)
    assert type(refused.value).__name__ == "RecordSetMismatch"


def test_nothing_to_repair_no_plan_or_a_plan_older_than_confirmed_is_a_409_that_says_so() -> None:
    with pytest.raises(NothingToRepair):
        repair_batch(zone(a_set(17), RecordSet.alias(EP, plan(17))), EP)
    with pytest.raises(NoPlanToRepairWith):
        repair_batch(zone(RecordSet.alias(EP, plan(17))), EP)
    with pytest.raises(PlanMoved, match="now plan-000017, older than plan-000018 as confirmed"):
        repair_batch(zone(a_set(16), a_set(17), RecordSet.alias(EP, plan(3))), EP, expect_target="plan-000018")
    # A plan published while the operator read the confirmation is taken, never an older one, and said.
    newer = repair_batch(zone(a_set(17), a_set(18), RecordSet.alias(EP, plan(3))), EP, expect_target="plan-000017")
    assert newer.plan == "plan-000018" and newer.confirmed == "plan-000017"
    assert "plan-000018 is newer than plan-000017, which was confirmed" in describe(newer, "change-000009", 10, None)["message"]
    assert repair_batch(zone(a_set(17)), EP).batch.changes[0].action == "CREATE"   # no alias at all: create one


@pytest.mark.parametrize("body", [[], "x", {"expect": "plan-000001"}, {"expect_target": 5},
                                  {"expect_target": "plan-1"}, {"expect_target": "<b>"}])
def test_a_bad_repair_request_is_a_400_naming_the_field(body: object) -> None:
    with pytest.raises(InvalidInput):
        parse_request(body)


def test_a_good_repair_request_names_its_plan_or_none() -> None:
    assert parse_request({}) is None
    assert parse_request({"expect_target": "plan-000017"}) == "plan-000017"
    assert parse_request({"expect_target": None}) is None
