"""dnsrace.zone_history: the zone replayed from dns-admin's audit (the checker) or its events (the console)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from dnsrace.events import Event
from dnsrace.records import ARecord, Change, RecordSet
from dnsrace.zone_history import (SetValue, UnstructuredChanges, alias_of, backward_moves, batches_from_audit,
                                  batches_from_events, changes_of, endpoint_moves, event_changes, exists,
                                  failing_change_of, listed_zone, referenced_deletions, replay, zone_at)

EP = "dynamodb.us-east-1.lab.test"
TRACES = Path(__file__).parent / "data" / "traces"
RECORDS = (ARecord("10.0.0.3", 20), ARecord("10.0.0.1", 10))
VALUE = SetValue(None, (("10.0.0.1", 10), ("10.0.0.3", 20)))     # RECORDS, as a zone keeps them


def plan(generation: int) -> str:
    return f"plan-{generation:06d}.{EP}"


def accepted(number: int, client: str, *changes: Change, t: float | None = None, seq: int | None = None) -> Event:
    return Event(t=float(number) if t is None else t, service="dns-admin", kind="batch_accepted",
                 detail={"change_id": f"change-{number:06d}", "client": client, "comment": "",
                         **event_changes(changes)}, seq=seq)


def audit_row(event: Event) -> dict[str, object]:
    """The audit row dns-admin writes for the batch an accepted event reports (its `batch` is the client's)."""
    number = int(event.detail["change_id"].rsplit("-", 1)[-1])
    return {"seq": number, "t": event.t, "change_id": event.detail["change_id"], "client": event.detail["client"],
            "outcome": "accepted", "batch": {"changes": event.detail["changes"]}}


def point(generation: int) -> Change:
    return Change("UPSERT", RecordSet.alias(EP, plan(generation)))


def delete(generation: int) -> Change:
    return Change("DELETE", RecordSet.a(plan(generation), 1, RECORDS))


def write(generation: int) -> Change:
    return Change("UPSERT", RecordSet.a(plan(generation), 1, RECORDS))


def recorded(name: str) -> list[Event]:
    with gzip.open(TRACES / name, "rt") as source:
        return [Event.from_json(row) for line in source if (row := json.loads(line)).get("source") == "event"]


def test_a_batch_event_carries_its_changes_in_the_audits_shape_and_their_text_only_to_be_shown() -> None:
    event = accepted(1, "enactor-a", write(7), point(7))
    assert event.detail["changes"] == [write(7).to_json(), point(7).to_json()]
    assert event.detail["described"] == [write(7).describe(), point(7).describe()]
    assert [(c.action, c.type, c.name, c.value) for c in changes_of(event)] == [
        ("UPSERT", "A", plan(7), VALUE), ("UPSERT", "ALIAS", EP, SetValue(plan(7)))]


def test_the_replay_keeps_each_record_sets_value_and_the_zone_at_any_moment() -> None:
    moved = Change("UPSERT", RecordSet.a(plan(7), 1, [ARecord("10.0.0.9", 5)]))
    events = [accepted(1, "enactor-a", write(7), point(7), t=10.0), accepted(2, "enactor-b", moved, t=20.0),
              accepted(3, "enactor-c", delete(6), t=30.0)]
    steps = replay(batches_from_events(events), complete=False)
    assert steps[0].after == {(plan(7), "A"): VALUE, (EP, "ALIAS"): SetValue(plan(7))}
    assert steps[1].after[(plan(7), "A")] == SetValue(None, (("10.0.0.9", 5),))
    assert steps[2].after[(plan(6), "A")] is None and alias_of(steps[2].after, EP.upper() + ".") == plan(7)
    assert zone_at(steps, 9.9) == {} and zone_at(steps, 19.9) is steps[0].after and zone_at(steps, 99) is steps[2].after
    # dns-admin's listing of that zone, written the way GET /v1/record-sets writes it, is the same zone.
    listing = [RecordSet.a(plan(7), 1, [ARecord("10.0.0.9", 5)]).to_json(), RecordSet.alias(EP, plan(7)).to_json()]
    assert listed_zone(listing) == replay(batches_from_events(events[:2]), complete=True)[-1].after
    reweighted = [RecordSet.a(plan(7), 1, [ARecord("10.0.0.9", 6)]).to_json(), listing[1]]
    assert listed_zone(reweighted) != replay(batches_from_events(events[:2]), complete=True)[-1].after


def test_a_rejected_batch_names_its_failing_change_structurally_or_none() -> None:
    refused = Event(1.0, "dns-admin", "batch_rejected", None, None,
                    {"error": "RecordSetMissing", "change_index": 0, "change": delete(3).to_json()}, 5)
    failing = failing_change_of(refused)
    assert failing is not None and (failing.action, failing.name, failing.value) == ("DELETE", plan(3), VALUE)
    busy = Event(1.0, "dns-admin", "batch_rejected", None, None, {"error": "Busy", "change_index": None, "change": None})
    assert failing_change_of(busy) is None


def test_an_event_recorded_before_the_changes_were_structured_is_refused_naming_it() -> None:
    old = Event(1.0, "dns-admin", "batch_accepted", None, None,
                {"change_id": "change-000004", "changes": [f"UPSERT ALIAS {EP} -> {plan(4)}"]}, 812)
    with pytest.raises(UnstructuredChanges, match=r"event #812 .*recorded before dns-admin's events carried "
                                                  r"structured changes"):
        batches_from_events([accepted(1, "enactor-a", point(1)), old])
    old_refusal = Event(1.0, "dns-admin", "batch_rejected", None, None,
                        {"error": "AliasTargetMissing", "change_index": 1,
                         "message": f"change 1: UPSERT ALIAS {EP} -> {plan(4)}: alias target does not exist"}, 813)
    with pytest.raises(UnstructuredChanges, match="event #813"):
        failing_change_of(old_refusal)


def test_events_are_replayed_in_dns_admins_order_not_the_order_they_arrived() -> None:
    events = [accepted(2, "enactor-b", point(2), t=5.0), accepted(1, "enactor-a", point(1), t=6.0),
              Event(t=1.0, service="enactor-a", kind="batch_accepted", detail={"change_id": "change-000009"})]
    assert [b.change_id for b in batches_from_events(events)] == ["change-000001", "change-000002"]
    moves = endpoint_moves(replay(batches_from_events(events), complete=False), EP)
    assert [(m.before, m.after) for m in moves] == [(None, 1), (1, 2)]


def test_a_window_does_not_know_what_it_never_saw_written_but_a_delete_proves_a_set_existed() -> None:
    steps = replay(batches_from_events([accepted(1, "enactor-a", write(5)), accepted(2, "enactor-c", delete(3))]),
                   complete=False)
    zone = steps[-1].after
    assert exists(zone, plan(5), complete=False) is True
    assert exists(zone, plan(3), complete=False) is False
    assert exists(zone, plan(4), complete=False) is None          # never seen: unknown
    assert exists(zone, plan(4), complete=True) is False          # an audit from row 1 saw everything


def test_a_back_move_and_the_deletion_of_the_live_plan_are_found_the_same_way_in_events_and_in_the_audit() -> None:
    events = [accepted(1, "enactor-b", write(10)), accepted(2, "enactor-b", point(10)),
              accepted(3, "enactor-c", write(16)), accepted(4, "enactor-c", point(16)),
              accepted(5, "enactor-a", point(10)), accepted(6, "enactor-c", delete(10))]
    audit = [audit_row(event) for event in events]
    audit.insert(2, {"seq": 99, "outcome": "RecordSetMismatch", "batch": {"changes": [{"action": "DELETE"}]}})
    assert batches_from_audit(audit) == batches_from_events(events)     # one shape, one reading
    for steps in (replay(batches_from_events(events), complete=False), replay(batches_from_audit(audit), complete=True)):
        moves = endpoint_moves(steps, EP)
        assert [(m.client, m.before, m.after) for m in backward_moves(moves)] == [("enactor-a", 16, 10)]
        [deletion] = referenced_deletions(steps, EP)
        assert (deletion.step.batch.client, deletion.name, deletion.reference) == ("enactor-c", plan(10), "the endpoint")
        assert referenced_deletions(steps, EP, exempt=("enactor-c",)) == []


def test_deleting_an_old_plan_or_one_the_same_batch_writes_again_is_not_a_referenced_deletion() -> None:
    events = [accepted(1, "enactor-b", point(10)), accepted(2, "enactor-c", delete(4)),
              accepted(3, "enactor-c", delete(10), write(10))]
    assert referenced_deletions(replay(batches_from_events(events), complete=False), EP) == []


def test_the_rollback_record_is_a_reference_too() -> None:
    events = [accepted(1, "enactor-b", Change("UPSERT", RecordSet.alias(f"rollback.{EP}", plan(9)))),
              accepted(2, "enactor-c", delete(9))]
    [deletion] = referenced_deletions(replay(batches_from_events(events), complete=False), EP)
    assert deletion.reference == "the rollback record"


def test_the_recorded_legacy_race_goes_back_and_a_cleanup_deletes_the_live_plan() -> None:
    steps = replay(batches_from_events(recorded("20261129T144656Z-legacy-race.jsonl.gz")), complete=False)
    back = backward_moves(endpoint_moves(steps, EP))
    assert (back[-1].client, back[-1].before, back[-1].after) == ("enactor-a", 22, 15)
    [deletion] = referenced_deletions(steps, EP)
    assert (deletion.step.batch.client, deletion.name) == ("enactor-c", plan(15))
    assert deletion.step.batch.comment.startswith("cleanup after")


def test_the_recorded_safe_race_never_goes_back_and_deletes_nothing_referenced() -> None:
    steps = replay(batches_from_events(recorded("20261129T152631Z-safe-race.jsonl.gz")), complete=False)
    assert len(endpoint_moves(steps, EP)) >= 5
    assert backward_moves(endpoint_moves(steps, EP)) == [] and referenced_deletions(steps, EP) == []
