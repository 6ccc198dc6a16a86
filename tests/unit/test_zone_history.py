"""dnsrace.zone_history: the zone replayed from dns-admin's audit (the checker) or its events (the console)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from dnsrace.events import Event
from dnsrace.records import ARecord, Change, RecordSet
from dnsrace.zone_history import (NameChange, backward_moves, batches_from_audit, batches_from_events, endpoint_moves,
                                  exists, parse_described_change, referenced_deletions, replay)

EP = "dynamodb.us-east-1.lab.test"
TRACES = Path(__file__).parent / "data" / "traces"


def plan(generation: int) -> str:
    return f"plan-{generation:06d}.{EP}"


def accepted(number: int, client: str, *described: str, t: float | None = None, seq: int | None = None) -> Event:
    return Event(t=float(number) if t is None else t, service="dns-admin", kind="batch_accepted",
                 detail={"change_id": f"change-{number:06d}", "client": client, "comment": "",
                         "changes": list(described)}, seq=seq)


def point(generation: int) -> str:
    return f"UPSERT ALIAS {EP} -> {plan(generation)}"


def delete(generation: int) -> str:
    return f"DELETE A {plan(generation)} (3 records, ttl 1)"


def write(generation: int) -> str:
    return f"UPSERT A {plan(generation)} (3 records, ttl 1)"


def recorded(name: str) -> list[Event]:
    with gzip.open(TRACES / name, "rt") as source:
        return [Event.from_json(row) for line in source if (row := json.loads(line)).get("source") == "event"]


def test_what_dns_admin_describes_parses_back_into_its_names() -> None:
    alias = Change("UPSERT", RecordSet.alias(EP, plan(7)))
    a_set = Change("DELETE", RecordSet(plan(7), "A", 1, (ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 1)), None))
    assert parse_described_change(alias.describe()) == NameChange("UPSERT", "ALIAS", EP, plan(7))
    assert parse_described_change(a_set.describe()) == NameChange("DELETE", "A", plan(7), None)
    assert parse_described_change("rendered the zone") is None


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
    audit = [{"seq": b.order, "t": b.t, "change_id": b.change_id, "client": b.client, "outcome": "accepted",
              "batch": {"changes": [{"action": c.action, "record_set": {"name": c.name, "type": c.type,
                                                                        **({"target": c.target} if c.target else {})}}
                                    for c in b.changes]}} for b in batches_from_events(events)]
    audit.insert(2, {"seq": 99, "outcome": "RecordSetMismatch", "batch": {"changes": [{"action": "DELETE"}]}})
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
    events = [accepted(1, "enactor-b", f"UPSERT ALIAS rollback.{EP} -> {plan(9)}"), accepted(2, "enactor-c", delete(9))]
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
