"""The dns-admin engine over a real SQLite store and a real zone directory (tmp_path).

Only the event sink is a fake: it records what the engine reports.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from dnsrace.events import Event
from dnsrace.records import (
    AliasChain,
    AliasTargetMissing,
    ARecord,
    InvalidInput,
    NameConflict,
    RecordSet,
    RecordSetExists,
    RecordSetMismatch,
    RecordSetMissing,
    RecordSetNotFound,
    ZoneFull,
)
from dnsrace.zone_history import SetChange, SetValue, batches_from_events, failing_change_of, listed_zone, replay
from dnsrace_admin import engine as engine_module
from dnsrace_admin.engine import Engine, plan_of
from dnsrace_admin.store import AuditEntry, StoreError, ZoneStore

ZONE = "lab.test"
EP = "dynamodb.us-east-1.lab.test"
ROLLBACK = f"rollback.{EP}"


def plan_name(number: int) -> str:
    return f"plan-{number:06d}.{EP}"


def a_set(name: str, *addresses: str, ttl: int = 60, weight: int = 1) -> dict[str, Any]:
    return {"name": name, "type": "A", "ttl": ttl, "records": [{"address": a, "weight": weight} for a in addresses]}


def alias(name: str, target: str) -> dict[str, Any]:
    return {"name": name, "type": "ALIAS", "target": target}


def change(action: str, record_set: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "record_set": record_set}


def batch(*changes: dict[str, Any], client: str = "enactor-a", comment: str = "") -> dict[str, Any]:
    return {"changes": list(changes), "client": client, "comment": comment}


class RecordingSink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append((kind, plan, detail))

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.events]


class Lab:
    """A data dir and a zone dir that engines can be opened on, closed and reopened."""

    def __init__(self, root: Path) -> None:
        self.data_path = root / "zone.sqlite3"
        self.zone_dir = root / "zones"
        self.zone_dir.mkdir()
        self.zone_file = self.zone_dir / "db.lab.test"
        self.sink = RecordingSink()
        self.clock_value = 1_000.0

    def clock(self) -> float:
        self.clock_value += 1.0
        return self.clock_value

    async def open(self) -> Engine:
        engine = Engine(
            ZoneStore(self.data_path, zone=ZONE),
            zone=ZONE,
            zone_file_path=self.zone_file,
            negative_ttl_s=15,
            events=self.sink,
            clock=self.clock,
        )
        await engine.start()
        return engine

    def zone_text(self) -> str:
        return self.zone_file.read_text()


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)


@pytest.fixture
async def engine(lab: Lab) -> AsyncIterator[Engine]:
    opened = await lab.open()
    yield opened
    await opened.close()


def snapshot(engine: Engine) -> tuple[int, int, list[RecordSet]]:
    return (engine.change_number, engine.serial, engine.record_sets())


def lines_for(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"{name}. ")]


async def live_endpoint(engine: Engine, number: int = 145) -> None:
    await engine.submit(batch(change("CREATE", a_set(plan_name(number), "10.0.0.1", "10.0.0.2"))))
    await engine.submit(batch(change("UPSERT", alias(EP, plan_name(number)))))


# --- start-up ----------------------------------------------------------------------------------------


async def test_fresh_engine_renders_empty_zone_with_serial_1(engine: Engine, lab: Lab) -> None:
    assert snapshot(engine) == (0, 1, [])
    assert "IN SOA ns.lab.test. hostmaster.lab.test. 1 60 30 86400 15" in lab.zone_text()
    assert lab.sink.kinds() == ["zone_rendered"]


# --- accepted batches --------------------------------------------------------------------------------


async def test_accepted_batch_numbers_serial_zone_and_events(engine: Engine, lab: Lab) -> None:
    result = await engine.submit(
        batch(
            change("CREATE", a_set(plan_name(145), "10.0.0.1")),
            change("CREATE", alias(EP, plan_name(145))),
            comment="apply plan-000145",
        )
    )
    assert (result.change_id, result.change_number, result.serial) == ("change-000001", 1, 2)
    assert result.to_json() == {"change_id": "change-000001", "serial": 2, "status": "INSYNC"}
    assert snapshot(engine)[:2] == (1, 2)
    text = lab.zone_text()
    assert " 2 60 30 86400 15" in text
    assert lines_for(text, EP) == [f"{EP}. 60 IN A 10.0.0.1"]
    kind, plan, detail = lab.sink.events[1]
    assert (kind, plan) == ("batch_accepted", "plan-000145")
    assert detail == {
        "change_id": "change-000001",
        "serial": 2,
        "client": "enactor-a",
        "comment": "apply plan-000145",
        "changes": [
            change("CREATE", a_set(plan_name(145), "10.0.0.1")),
            change("CREATE", alias(EP, plan_name(145))),
        ],
        "described": [
            f"CREATE A {plan_name(145)} (1 record, ttl 60)",
            f"CREATE ALIAS {EP} -> {plan_name(145)}",
        ],
    }
    assert lab.sink.events[2] == ("zone_rendered", None, {"serial": 2})


async def test_the_changes_an_accepted_batch_event_carries_replay_to_the_zone_dns_admin_lists(
        engine: Engine, lab: Lab) -> None:
    # What a client sent, as dns-admin normalized it (case, trailing dot), comes back out of the event as
    # the zone's own values: the structured changes round-trip, addresses and weights included.
    await engine.submit(batch(change("CREATE", {"name": plan_name(3).upper() + ".", "type": "A", "ttl": 60,
                                                "records": [{"address": "10.0.0.9", "weight": 20},
                                                            {"address": "10.0.0.2", "weight": 10}]}),
                              change("CREATE", alias(EP, plan_name(3) + "."))))
    await engine.submit(batch(change("CREATE", a_set(plan_name(4), "10.0.0.4")),
                              change("DELETE", alias(EP, plan_name(3))), change("CREATE", alias(EP, plan_name(4))),
                              change("UPSERT", alias(ROLLBACK, plan_name(3)))))
    events = [Event(float(n), "dns-admin", kind, plan, None, detail, n)
              for n, (kind, plan, detail) in enumerate(lab.sink.events)]
    [first, second] = batches_from_events(events)
    assert first.changes == (
        SetChange("CREATE", "A", plan_name(3), SetValue(None, (("10.0.0.2", 10), ("10.0.0.9", 20)))),
        SetChange("CREATE", "ALIAS", EP, SetValue(plan_name(3))))
    assert (second.change_id, second.client, [c.action for c in second.changes]) == (
        "change-000002", "enactor-a", ["CREATE", "DELETE", "CREATE", "UPSERT"])
    zone = replay([first, second], complete=True)[-1].after
    assert zone == listed_zone(record_set.to_json() for record_set in engine.record_sets())
    assert zone[(plan_name(3), "A")] == SetValue(None, (("10.0.0.2", 10), ("10.0.0.9", 20)))


async def test_upsert_creates_then_replaces(engine: Engine) -> None:
    await engine.submit(batch(change("UPSERT", a_set(plan_name(1), "10.0.0.1"))))
    await engine.submit(batch(change("UPSERT", a_set(plan_name(1), "10.0.0.9", ttl=30))))
    assert engine.get(plan_name(1), "A") == RecordSet.a(plan_name(1), 30, [ARecord("10.0.0.9", 1)])
    assert engine.change_number == 2


async def test_alias_created_in_the_same_batch_after_its_target(engine: Engine) -> None:
    await engine.submit(
        batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")), change("UPSERT", alias(EP, plan_name(1))))
    )
    assert engine.get(EP, "ALIAS").target == plan_name(1)


async def test_compare_and_swap_with_delete_then_create(engine: Engine) -> None:
    await live_endpoint(engine, 1)
    await engine.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.3"))))
    await engine.submit(batch(change("DELETE", alias(EP, plan_name(1))), change("CREATE", alias(EP, plan_name(2)))))
    assert engine.get(EP, "ALIAS").target == plan_name(2)
    # The same swap written against the stale value now fails: the endpoint moved on.
    with pytest.raises(RecordSetMismatch):
        await engine.submit(batch(change("DELETE", alias(EP, plan_name(1))), change("CREATE", alias(EP, plan_name(3)))))


async def test_delete_matches_records_in_any_order(engine: Engine) -> None:
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1", "10.0.0.2"))))
    await engine.submit(batch(change("DELETE", a_set(plan_name(1), "10.0.0.2", "10.0.0.1"))))
    assert engine.record_sets() == []


async def test_deleting_the_live_alias_target_is_allowed_and_empties_the_endpoint(engine: Engine, lab: Lab) -> None:
    await live_endpoint(engine)
    assert len(lines_for(lab.zone_text(), EP)) == 2
    await engine.submit(batch(change("DELETE", a_set(plan_name(145), "10.0.0.1", "10.0.0.2"))))
    text = lab.zone_text()
    assert lines_for(text, EP) == []
    assert f"; alias {EP} -> {plan_name(145)} (target missing: answers empty)" in text
    assert engine.get(EP, "ALIAS").target == plan_name(145)


# --- rejected batches --------------------------------------------------------------------------------


async def test_create_twice_is_rejected_and_changes_nothing(engine: Engine, lab: Lab) -> None:
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1"))))
    before, zone_before = snapshot(engine), lab.zone_text()
    with pytest.raises(RecordSetExists) as caught:
        await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.2"))))
    assert caught.value.change_index == 0
    assert caught.value.message.startswith(f"change 0: CREATE A {plan_name(1)} (1 record, ttl 60): record set already exists")
    assert snapshot(engine) == before
    assert lab.zone_text() == zone_before


async def test_delete_mismatch_is_rejected_and_changes_nothing(engine: Engine, lab: Lab) -> None:
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1", "10.0.0.2"))))
    before, zone_before = snapshot(engine), lab.zone_text()
    for wrong in (
        a_set(plan_name(1), "10.0.0.1"),
        a_set(plan_name(1), "10.0.0.1", "10.0.0.2", ttl=61),
        a_set(plan_name(1), "10.0.0.1", "10.0.0.2", weight=2),
    ):
        with pytest.raises(RecordSetMismatch, match="does not match the current value"):
            await engine.submit(batch(change("DELETE", wrong)))
    assert snapshot(engine) == before
    assert engine.serial == 2
    assert lab.zone_text() == zone_before


async def test_delete_missing_is_rejected(engine: Engine) -> None:
    with pytest.raises(RecordSetMissing):
        await engine.submit(batch(change("DELETE", a_set(plan_name(1), "10.0.0.1"))))
    assert engine.change_number == 0


async def test_alias_to_missing_target_is_rejected_with_a_readable_message(engine: Engine) -> None:
    await live_endpoint(engine, 145)
    with pytest.raises(AliasTargetMissing) as caught:
        await engine.submit(
            batch(change("UPSERT", alias(EP, plan_name(145))), change("UPSERT", alias(ROLLBACK, plan_name(110))))
        )
    assert caught.value.change_index == 1
    assert caught.value.message == (
        f"change 1: UPSERT ALIAS {ROLLBACK} -> {plan_name(110)}: alias target does not exist"
    )
    assert caught.value.http_status == 409


async def test_alias_before_its_target_in_the_same_batch_is_rejected(engine: Engine) -> None:
    with pytest.raises(AliasTargetMissing):
        await engine.submit(
            batch(change("UPSERT", alias(EP, plan_name(1))), change("CREATE", a_set(plan_name(1), "10.0.0.1")))
        )
    assert engine.record_sets() == []


async def test_alias_to_an_alias_is_rejected(engine: Engine) -> None:
    await live_endpoint(engine, 1)
    with pytest.raises(AliasTargetMissing, match="itself an ALIAS"):
        await engine.submit(batch(change("CREATE", alias(ROLLBACK, EP))))


async def test_deleting_an_alias_target_and_aliasing_its_name_is_refused_as_a_chain(engine: Engine, lab: Lab) -> None:
    # rollback -> plan 1 (A); one batch deletes plan 1 and re-creates its name as an ALIAS to plan 2:
    # that would make rollback -> plan 1 -> plan 2, and the rendered rollback answer empty.
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")),
                              change("CREATE", a_set(plan_name(2), "10.0.0.2")),
                              change("CREATE", alias(ROLLBACK, plan_name(1)))))
    before, zone_before = snapshot(engine), lab.zone_text()
    with pytest.raises(AliasChain, match=f"{ROLLBACK} is an ALIAS to {plan_name(1)}") as caught:
        await engine.submit(batch(change("DELETE", a_set(plan_name(1), "10.0.0.1")),
                                  change("CREATE", alias(plan_name(1), plan_name(2)))))
    assert (caught.value.change_index, caught.value.http_status) == (1, 409)
    assert (snapshot(engine), lab.zone_text()) == (before, zone_before)
    assert lines_for(lab.zone_text(), ROLLBACK) == [f"{ROLLBACK}. 60 IN A 10.0.0.1"]
    with pytest.raises(AliasChain):  # UPSERT is the same write
        await engine.submit(batch(change("DELETE", a_set(plan_name(1), "10.0.0.1")),
                                  change("UPSERT", alias(plan_name(1), plan_name(2)))))
    # Once nothing points at the name any more, it may become an alias like any other name.
    await engine.submit(batch(change("DELETE", alias(ROLLBACK, plan_name(1))),
                              change("DELETE", a_set(plan_name(1), "10.0.0.1")),
                              change("CREATE", alias(plan_name(1), plan_name(2)))))
    assert lines_for(lab.zone_text(), plan_name(1)) == [f"{plan_name(1)}. 60 IN A 10.0.0.2"]


async def test_a_and_alias_cannot_share_a_name(engine: Engine) -> None:
    await live_endpoint(engine, 1)
    with pytest.raises(NameConflict):
        await engine.submit(batch(change("CREATE", a_set(EP, "10.0.0.9"))))
    with pytest.raises(NameConflict):
        await engine.submit(batch(change("UPSERT", alias(plan_name(1), plan_name(1).replace("plan-", "x-")))))


async def test_rejection_at_change_2_leaves_changes_0_and_1_unapplied(engine: Engine, lab: Lab) -> None:
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1"))))
    before, zone_before = snapshot(engine), lab.zone_text()
    with pytest.raises(RecordSetExists) as caught:
        await engine.submit(
            batch(
                change("CREATE", a_set(plan_name(2), "10.0.0.2")),
                change("UPSERT", alias(EP, plan_name(2))),
                change("CREATE", a_set(plan_name(1), "10.0.0.3")),
            )
        )
    assert caught.value.change_index == 2
    assert snapshot(engine) == before
    assert lab.zone_text() == zone_before
    with pytest.raises(RecordSetNotFound):
        engine.get(plan_name(2), "A")


async def test_malformed_batch_is_invalid_input(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        await engine.submit(batch(change("CREATE", a_set("x.example.com", "10.0.0.1"))))
    assert caught.value.change_index == 0
    with pytest.raises(InvalidInput):
        await engine.submit("not a batch")
    assert engine.change_number == 0


async def test_rejections_are_reported_as_events(engine: Engine, lab: Lab) -> None:
    await live_endpoint(engine, 145)
    with pytest.raises(AliasTargetMissing):
        await engine.submit(
            batch(change("UPSERT", alias(EP, plan_name(145))), change("UPSERT", alias(ROLLBACK, plan_name(110))))
        )
    kind, plan, detail = lab.sink.events[-1]
    assert (kind, plan) == ("batch_rejected", "plan-000110")  # the plan of the change that failed
    assert detail == {
        "error": "AliasTargetMissing",
        "message": f"change 1: UPSERT ALIAS {ROLLBACK} -> {plan_name(110)}: alias target does not exist",
        "change_index": 1,
        "change": change("UPSERT", alias(ROLLBACK, plan_name(110))),
        "client": "enactor-a",
        "comment": "",
    }
    rejected = Event(1.0, "dns-admin", kind, plan, None, detail, 7)
    assert failing_change_of(rejected) == SetChange("UPSERT", "ALIAS", ROLLBACK, SetValue(plan_name(110)))
    with pytest.raises(InvalidInput):
        await engine.submit({"changes": [], "client": "enactor-b", "comment": "plan-000146: point x"})
    kind, plan, detail = lab.sink.events[-1]
    assert (kind, plan, detail["error"], detail["client"], detail["comment"], detail["change"]) == (
        "batch_rejected", None, "InvalidInput", "enactor-b", "plan-000146: point x", None)


@pytest.mark.parametrize("claims", [{"client": "enactor-a\n+ 1.0s enactor-b CRASHED"}, {"comment": "ok\nforged line"},
                                    {"client": 7}, {"comment": ["x"]}])
async def test_what_a_malformed_batch_claims_reaches_no_event_unless_it_is_valid(
        engine: Engine, lab: Lab, claims: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        await engine.submit({"changes": [], **claims})
    kind, _, detail = lab.sink.events[-1]
    assert kind == "batch_rejected"
    # A forged string is dropped (None); a claim that is no string at all is not reported either ("").
    expected = {key: (None if isinstance(claims.get(key), str) else "") for key in ("client", "comment")}
    assert (detail["client"], detail["comment"]) == (expected["client"], expected["comment"])
    # The audit row keeps the claim, escaped onto one line; the exact bytes stay in its JSON `batch`.
    (row,) = await engine.audit(1)
    assert row.client.isprintable() and row.comment.isprintable()
    assert row.batch == {"changes": [], **claims}
    if isinstance(claims.get("client"), str):
        assert row.client == "enactor-a\\n+ 1.0s enactor-b CRASHED"


@pytest.mark.parametrize("name", ["x\n@ IN A 6.6.6.6\n" * 5_000 + ".lab.test", "\u2028" * 100_000])
async def test_what_a_rejection_message_quotes_is_escaped_and_bounded(engine: Engine, lab: Lab, name: str) -> None:
    with pytest.raises(InvalidInput):
        await engine.submit(batch(change("CREATE", a_set(name, "10.0.0.1"))))
    _, _, detail = lab.sink.events[-1]
    (row,) = await engine.audit(1)
    for message in (detail["message"], row.message):
        assert message.isprintable() and len(message) < 300, message[:300]


@pytest.mark.parametrize("claims", [{"comment": "\ud800"}, {"client": "\udfff"}, {"comment": "plan \udc80 x"},
                                    {"client": "enactor-a", "comment": "fine", "extra": "\ud800"}],
                         ids=["comment", "client", "inside-comment", "unknown-key"])
async def test_a_refused_batch_with_a_lone_surrogate_leaves_exactly_one_audit_row(
        engine: Engine, claims: dict[str, str]) -> None:
    body = {"changes": [change("CREATE", a_set(plan_name(1), "10.0.0.1"))], **claims}
    with pytest.raises(InvalidInput):
        await engine.submit(body)
    (row,) = await engine.audit(10)
    assert row.outcome == "InvalidInput" and row.batch == body  # the batch kept exactly (JSON escapes it)
    for key in ("client", "comment"):
        stored = getattr(row, key)
        stored.encode("utf-8")  # storable text (raises on a lone surrogate): it was escaped
        assert stored.isprintable()
        claimed = claims.get(key, "") if key != "client" or "extra" not in claims else "enactor-a"
        assert stored == claimed.encode("utf-8", "backslashreplace").decode()


# --- reads -------------------------------------------------------------------------------------------


async def test_get_validates_and_reports_missing(engine: Engine) -> None:
    await live_endpoint(engine, 1)
    assert engine.get(EP.upper() + ".", "ALIAS").name == EP
    with pytest.raises(RecordSetNotFound, match=f"A {EP} does not exist"):
        engine.get(EP, "A")
    with pytest.raises(InvalidInput):
        engine.get(EP, "CNAME")
    with pytest.raises(InvalidInput):
        engine.get("x.example.com", "A")
    assert [rs.key for rs in engine.record_sets()] == sorted([(EP, "ALIAS"), (plan_name(1), "A")])


def test_plan_of() -> None:
    from dnsrace.records import Change

    assert plan_of(Change("UPSERT", RecordSet.alias(EP, plan_name(7)))) == "plan-000007"
    assert plan_of(Change("CREATE", RecordSet.a(plan_name(1234567), 60, [ARecord("10.0.0.1", 1)]))) == "plan-1234567"
    assert plan_of(Change("UPSERT", RecordSet.a("planet.lab.test", 60, [ARecord("10.0.0.1", 1)]))) is None
    assert plan_of(Change("UPSERT", RecordSet.alias(EP, "other.lab.test"))) is None


# --- durability and audit ----------------------------------------------------------------------------


async def test_reopen_keeps_record_sets_serial_and_continues_numbering(lab: Lab) -> None:
    first = await lab.open()
    await live_endpoint(first, 1)
    with pytest.raises(RecordSetExists):
        await first.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.5"))))
    state = snapshot(first)
    await first.close()
    lab.zone_file.unlink()  # start-up must render the zone again from the store

    second = await lab.open()
    try:
        assert snapshot(second) == state == (2, 3, second.record_sets())
        assert lines_for(lab.zone_text(), EP) == [f"{EP}. 60 IN A 10.0.0.1", f"{EP}. 60 IN A 10.0.0.2"]
        assert " 3 60 30 86400 15" in lab.zone_text()
        result = await second.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.3"))))
        assert (result.change_id, result.serial) == ("change-000003", 4)
    finally:
        await second.close()


async def test_store_file_settings(lab: Lab) -> None:
    engine = await lab.open()
    await engine.close()
    connection = sqlite3.connect(lab.data_path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # a property of the file
    finally:
        connection.close()


def test_the_store_connection_syncs_every_commit_to_disk(lab: Lab) -> None:
    # synchronous is a property of the connection, not of the file: ask the store's own connection.
    store = ZoneStore(lab.data_path, zone=ZONE)
    try:
        assert store.durability() == {"journal_mode": "wal", "synchronous": "FULL"}
    finally:
        store.close()


async def test_store_refuses_a_file_of_another_zone(lab: Lab) -> None:
    ZoneStore(lab.data_path, zone=ZONE).close()
    with pytest.raises(StoreError, match="holds zone 'lab.test'"):
        ZoneStore(lab.data_path, zone="other.test")


async def test_audit_records_accepted_and_rejected_batches(lab: Lab) -> None:
    engine = await lab.open()
    await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")), comment="first"))
    with pytest.raises(RecordSetExists):
        await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")), client="enactor-b"))
    with pytest.raises(InvalidInput):
        await engine.submit({"changes": "nope", "client": "enactor-c", "comment": "bad"})
    await engine.close()

    reopened = await lab.open()  # the audit log is durable too
    try:
        entries = [entry.to_json() for entry in await reopened.audit(50)]
    finally:
        await reopened.close()
    assert [(e["change_id"], e["outcome"], e["client"], e["change_index"]) for e in entries] == [
        ("change-000001", "accepted", "enactor-a", None),
        (None, "RecordSetExists", "enactor-b", 0),
        (None, "InvalidInput", "enactor-c", None),
    ]
    assert entries[0]["comment"] == "first"
    assert entries[0]["batch"] == batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")), comment="first")
    assert entries[1]["message"].startswith("change 0: CREATE A")
    assert entries[2]["batch"] == {"changes": "nope", "client": "enactor-c", "comment": "bad"}
    assert [e["t"] for e in entries] == sorted(e["t"] for e in entries)
    assert [e["seq"] for e in entries] == [1, 2, 3]


async def test_audit_limit_returns_newest_last(engine: Engine) -> None:
    for number in range(1, 6):
        await engine.submit(batch(change("CREATE", a_set(plan_name(number), "10.0.0.1"))))
    entries = await engine.audit(2)
    assert [entry.change_id for entry in entries] == ["change-000004", "change-000005"]
    for bad in (0, 1001, -1):
        with pytest.raises(InvalidInput):
            await engine.audit(bad)


# --- concurrency and failure of the edges -------------------------------------------------------------


async def test_concurrent_batches_are_serialized_and_numbered_once(engine: Engine) -> None:
    results = await asyncio.gather(
        *[engine.submit(batch(change("CREATE", a_set(plan_name(n), "10.0.0.1")))) for n in range(1, 21)],
        *[engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.2")))) for _ in range(5)],
        return_exceptions=True,
    )
    accepted = [r for r in results if not isinstance(r, BaseException)]
    rejected = [r for r in results if isinstance(r, BaseException)]
    assert sorted(r.change_number for r in accepted) == list(range(1, 21))
    assert all(isinstance(r, RecordSetExists) for r in rejected) and len(rejected) == 5
    assert engine.serial == 21


async def test_cancelled_caller_does_not_split_memory_from_store(lab: Lab) -> None:
    engine = await lab.open()
    task = asyncio.ensure_future(engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")))))
    await asyncio.sleep(0)  # the commit is now under way in the worker thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.close()  # waits for the shielded commit to finish
    assert engine.change_number == 1
    reopened = await lab.open()
    try:
        assert snapshot(reopened) == snapshot(engine)
    finally:
        await reopened.close()


# --- bounds: the zone's size, the wait for the lock, the wait for the store ---------------------------


async def test_a_full_zone_refuses_growth_but_takes_batches_that_keep_or_shrink_it(lab: Lab) -> None:
    lab_engine = Engine(ZoneStore(lab.data_path, zone=ZONE), zone=ZONE, zone_file_path=lab.zone_file,
                        negative_ttl_s=15, events=lab.sink, clock=lab.clock, record_set_count_max=3)
    await lab_engine.start()
    try:
        await live_endpoint(lab_engine, 1)
        await lab_engine.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.2"))))  # 3 of 3
        before, zone_before = snapshot(lab_engine), lab.zone_text()
        with pytest.raises(ZoneFull, match="would leave 5 record sets in the zone, more than its limit of 3") as caught:
            await lab_engine.submit(batch(change("CREATE", a_set(plan_name(3), "10.0.0.3")),
                                          change("CREATE", alias(ROLLBACK, plan_name(1)))))
        assert caught.value.http_status == 409
        assert (snapshot(lab_engine), lab.zone_text()) == (before, zone_before)
        kind, _, detail = lab.sink.events[-1]
        assert (kind, detail["error"]) == ("batch_rejected", "ZoneFull")
        # At the limit, the enactors' own batches still go through: re-point (same size), clean (smaller).
        await lab_engine.submit(batch(change("DELETE", alias(EP, plan_name(1))), change("CREATE", alias(EP, plan_name(2)))))
        await lab_engine.submit(batch(change("DELETE", a_set(plan_name(1), "10.0.0.1", "10.0.0.2"))))
        await lab_engine.submit(batch(change("CREATE", a_set(plan_name(3), "10.0.0.3"))))
        assert len(lab_engine.record_sets()) == 3
    finally:
        await lab_engine.close()
    # Over the limit (it was lowered after the zone filled): what keeps the size or shrinks it still goes.
    lowered = Engine(ZoneStore(lab.data_path, zone=ZONE), zone=ZONE, zone_file_path=lab.zone_file,
                     negative_ttl_s=15, events=lab.sink, clock=lab.clock, record_set_count_max=2)
    await lowered.start()
    try:
        await lowered.submit(batch(change("DELETE", alias(EP, plan_name(2))), change("CREATE", alias(EP, plan_name(3)))))
        await lowered.submit(batch(change("DELETE", a_set(plan_name(2), "10.0.0.2"))))
        assert len(lowered.record_sets()) == 2
    finally:
        await lowered.close()


def test_the_store_keeps_a_row_whose_text_utf8_cannot_hold(lab: Lab) -> None:
    # A lone surrogate is valid in a JSON string and not in UTF-8: SQLite would refuse the row.
    store = ZoneStore(lab.data_path, zone=ZONE)
    try:
        store.append_audit(AuditEntry(change_id=None, t=1.0, client="\udfff", comment="a \ud800 b",
                                      batch={"comment": "a \ud800 b"}, outcome="InvalidInput", message="m \udc80"))
        (row,) = store.read_audit(10)
    finally:
        store.close()
    assert (row.client, row.comment, row.message) == ("\\udfff", "a \\ud800 b", "m \\udc80")
    assert row.batch == {"comment": "a \ud800 b"}  # the JSON column keeps the exact claim


class StallingStore(ZoneStore):
    """A store whose commits wait in the worker thread until `go` is set: a disk that stops answering."""

    def __init__(self, path: Path, *, zone: str) -> None:
        super().__init__(path, zone=zone)
        self.go = threading.Event()

    def commit_batch(self, **kwargs: Any) -> None:
        assert self.go.wait(timeout=60), "the test never let the stalled commit go"
        super().commit_batch(**kwargs)


async def open_stalling(lab: Lab) -> tuple[Engine, StallingStore]:
    store = StallingStore(lab.data_path, zone=ZONE)
    engine = Engine(store, zone=ZONE, zone_file_path=lab.zone_file, negative_ttl_s=15, events=lab.sink,
                    clock=lab.clock)
    await engine.start()
    return engine, store


async def test_a_store_that_stops_answering_is_a_503_and_memory_catches_up_before_the_next_batch(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "STORE_WAIT_S", 0.1)
    engine, store = await open_stalling(lab)
    try:
        with pytest.raises(engine_module.StoreTimeout) as caught:  # the outer bound only guards the test
            await asyncio.wait_for(engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")))), 10)
        assert (caught.value.code, caught.value.http_status) == ("StoreTimeout", 503)
        assert engine.change_number == 0  # not known to be committed, so not in memory
        kind, _, detail = lab.sink.events[-1]
        assert (kind, detail["change_id"]) == ("batch_outcome_unknown", "change-000001")
        store.go.set()  # the disk answers again: the late commit lands in the worker thread
        monkeypatch.setattr(engine_module, "STORE_WAIT_S", 10.0)
        second = await engine.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.2"))))
        # The next batch reloaded first: it sees the late commit and takes the number after it.
        assert second.change_id == "change-000002"
        assert [rs.name for rs in engine.record_sets()] == [plan_name(1), plan_name(2)]
        assert lines_for(lab.zone_text(), plan_name(1)) == [f"{plan_name(1)}. 60 IN A 10.0.0.1"]
        assert [e.change_id for e in await engine.audit(10)] == ["change-000001", "change-000002"]  # one row each
    finally:
        store.go.set()
        await engine.close()


async def test_a_batch_waits_for_the_lock_within_a_bound_then_is_refused_busy(
        lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "LOCK_WAIT_S", 0.05)
    monkeypatch.setattr(engine_module, "STORE_WAIT_S", 0.3)
    engine, store = await open_stalling(lab)
    try:
        stalled = asyncio.ensure_future(engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")))))
        await asyncio.sleep(0)  # the first batch now holds the lock, its commit stalled in the thread
        with pytest.raises(engine_module.Busy) as caught:
            await asyncio.wait_for(engine.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.2")),
                                                       client="enactor-b")), 10)
        assert (caught.value.code, caught.value.http_status) == ("Busy", 503)
        with pytest.raises(engine_module.StoreTimeout):
            await stalled
        store.go.set()
        monkeypatch.setattr(engine_module, "STORE_WAIT_S", 10.0)
        rows = await engine.audit(10)  # queued behind the late commit and the Busy row: read after both
        assert [(r.outcome, r.client) for r in rows] == [("accepted", "enactor-a"), ("Busy", "enactor-b")]
        said = [(kind, detail.get("error"), detail["client"]) for kind, _, detail in lab.sink.events
                if kind in ("batch_rejected", "batch_outcome_unknown")]
        assert sorted(said) == [("batch_outcome_unknown", None, "enactor-a"), ("batch_rejected", "Busy", "enactor-b")]
    finally:
        store.go.set()
        await engine.close()


class BrokenSink:
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        raise ConnectionError("redis is gone")


class HangingSink:
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        await asyncio.sleep(3600)


@pytest.mark.parametrize("sink", [BrokenSink(), HangingSink()])
async def test_a_failing_event_sink_never_fails_or_blocks_a_batch(
    lab: Lab, sink: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(engine_module, "EMIT_TIMEOUT_S", 0.05)
    lab.sink = sink
    engine = await lab.open()
    try:
        result = await asyncio.wait_for(engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")))), 5)
        assert result.change_number == 1
        with pytest.raises(RecordSetExists):
            await asyncio.wait_for(engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1")))), 5)
    finally:
        await engine.close()
    assert "event_emit_failed" in capsys.readouterr().err


async def test_zone_file_write_failure_is_reported_after_commit(lab: Lab) -> None:
    engine = await lab.open()
    try:
        lab.zone_file.unlink()
        lab.zone_dir.rmdir()  # nowhere to write the zone file
        with pytest.raises(engine_module.ZoneFileWriteFailed, match="change-000001 is committed"):
            await engine.submit(batch(change("CREATE", a_set(plan_name(1), "10.0.0.1"))))
        assert engine.change_number == 1  # memory follows the store, not the zone file
        lab.zone_dir.mkdir()
        await engine.submit(batch(change("CREATE", a_set(plan_name(2), "10.0.0.1"))))
        assert lines_for(lab.zone_text(), plan_name(1)) == [f"{plan_name(1)}. 60 IN A 10.0.0.1"]
    finally:
        await engine.close()
