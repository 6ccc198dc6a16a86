"""dns-admin reports again, at start, a batch it committed whose `batch_accepted` a crash lost.

Over a real SQLite store (the engine commits real batches) and a real Redis (the stream the lab reads).
The crash is made the only way a test can make it: the engine's events go to a recorder, and the test
appends to the stream all of them but the one the SIGKILL would have lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from dnsrace.events import Event, append_event, read_events
from dnsrace_admin import lost_events
from dnsrace_admin.engine import Engine
from dnsrace_admin.lost_events import missing_batches, recover_lost_events
from dnsrace_admin.store import AuditEntry, ZoneStore

ZONE = "lab.test"
EP = "dynamodb.us-east-1.lab.test"
STREAM = "dnsrace:events"


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append(Event(time.time(), "dns-admin", kind, plan, token, detail))


def a_set(number: int, *addresses: str) -> dict[str, Any]:
    return {"name": f"plan-{number:06d}.{EP}", "type": "A", "ttl": 60,
            "records": [{"address": a, "weight": 1} for a in addresses]}


def batch(*changes: dict[str, Any], client: str = "enactor-c") -> dict[str, Any]:
    return {"changes": list(changes), "client": client, "comment": "apply"}


async def committed_three(tmp_path: Path, recorder: Recorder) -> Engine:
    """Three accepted batches (changes 1-3) and one rejected, committed by a real engine."""
    store = ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE)
    engine = Engine(store, zone=ZONE, zone_file_path=tmp_path / "db.lab.test", negative_ttl_s=15, events=recorder,
                    clock=time.time)
    await engine.start()
    await engine.submit(batch({"action": "CREATE", "record_set": a_set(16, "10.0.0.1")}))
    await engine.submit(batch({"action": "UPSERT", "record_set": {"name": EP, "type": "ALIAS",
                                                                 "target": f"plan-000016.{EP}"}}))
    try:
        await engine.submit(batch({"action": "CREATE", "record_set": a_set(16, "10.0.0.9")}))
    except Exception:
        pass  # refused (the set exists): an audit row that is not a batch to report
    await engine.submit(batch({"action": "CREATE", "record_set": a_set(17, "10.0.0.2")}))
    return engine


async def committed_and_reported(tmp_path: Path, redis: aioredis.Redis[bytes], *, lost: str | None) -> tuple[
        Engine, Recorder]:
    """A stream that began before the batches, then every event the engine emitted but `lost`'s batch."""
    recorder = Recorder()
    await append_event(redis, Event(time.time() - 1, "planner", "plan_created", "plan-000016"), stream=STREAM)
    engine = await committed_three(tmp_path, recorder)
    for event in recorder.events:
        if lost is None or event.detail.get("change_id") != lost:
            await append_event(redis, event, stream=STREAM)
    return engine, recorder


async def stream_events(redis: aioredis.Redis[bytes]) -> list[Event]:
    return await read_events(redis, stream=STREAM, count=1000)


def accepted(events: list[Event]) -> dict[str, Event]:
    return {str(e.detail["change_id"]): e for e in events if e.kind == "batch_accepted"}


async def test_the_batch_whose_event_was_lost_is_appended_again_where_it_happened(
        tmp_path: Path, redis_client: aioredis.Redis[bytes]) -> None:
    # The SIGKILL took change-000002's event with it.
    engine, recorder = await committed_and_reported(tmp_path, redis_client, lost="change-000002")
    originals = accepted(recorder.events)
    assert sorted(originals) == ["change-000001", "change-000002", "change-000003"]

    assert await recover_lost_events(engine.audit, redis_client, stream=STREAM, zone=ZONE, service="dns-admin") == [
        "change-000002"]

    found = accepted(await stream_events(redis_client))
    assert sorted(found) == ["change-000001", "change-000002", "change-000003"]
    again, original = found["change-000002"], originals["change-000002"]
    row = next(r for r in await engine.audit(10) if r.change_id == "change-000002")
    assert again.detail.pop("recovered") is True
    assert again.detail.pop("decided_at") == row.t == again.t
    assert (again.service, again.kind, again.plan) == (original.service, original.kind, original.plan)
    assert again.detail == original.detail  # changes, serial, client, comment: as the engine said them
    ordered = [e.detail.get("change_id") for e in await stream_events(redis_client) if e.kind == "batch_accepted"]
    assert ordered == ["change-000001", "change-000002", "change-000003"]  # by time, where it happened


async def test_nothing_is_appended_twice_nor_when_every_batch_was_reported(
        tmp_path: Path, redis_client: aioredis.Redis[bytes]) -> None:
    engine, _ = await committed_and_reported(tmp_path, redis_client, lost=None)
    before = len(await stream_events(redis_client))
    assert await recover_lost_events(engine.audit, redis_client, stream=STREAM, zone=ZONE, service="dns-admin") == []
    assert len(await stream_events(redis_client)) == before


async def test_an_empty_stream_a_reset_lab_is_not_filled_with_old_batches(
        tmp_path: Path, redis_client: aioredis.Redis[bytes]) -> None:
    engine = await committed_three(tmp_path, Recorder())
    assert await recover_lost_events(engine.audit, redis_client, stream=STREAM, zone=ZONE, service="dns-admin") == []
    assert await stream_events(redis_client) == []


async def test_another_services_event_with_the_same_change_id_does_not_count_as_reported(
        tmp_path: Path, redis_client: aioredis.Redis[bytes]) -> None:
    engine, _ = await committed_and_reported(tmp_path, redis_client, lost="change-000003")
    await append_event(redis_client, Event(time.time(), "dns-admin-2", "batch_accepted", None, None,
                                           {"change_id": "change-000003"}), stream=STREAM)
    assert await recover_lost_events(engine.audit, redis_client, stream=STREAM, zone=ZONE, service="dns-admin") == [
        "change-000003"]


async def test_a_dead_redis_is_logged_and_start_goes_on(tmp_path: Path, silent_port: int, capsys: Any,
                                                        monkeypatch: Any) -> None:
    monkeypatch.setattr(lost_events, "TIMEOUT_S", 0.5)
    engine = await committed_three(tmp_path, Recorder())
    redis = aioredis.from_url(f"redis://127.0.0.1:{silent_port}/0", socket_timeout=0.3, socket_connect_timeout=0.3)
    try:
        assert await recover_lost_events(engine.audit, redis, stream=STREAM, zone=ZONE, service="dns-admin") == []
    finally:
        await redis.close()
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert [entry["kind"] for entry in logged][-1] == "lost_events_unchecked"


def row(number: int, t: float, outcome: str = "accepted") -> AuditEntry:
    return AuditEntry(change_id=f"change-{number:06d}", t=t, client="enactor-a", comment="", batch={},
                      outcome=outcome, message="")


def test_only_rows_committed_after_the_stream_began_are_compared() -> None:
    rows = [row(1, 100.0), row(2, 200.0), row(3, 300.0)]
    assert [r.change_id for r in missing_batches(rows, [], stream_start_s=250.0)] == ["change-000003"]
    assert missing_batches(rows, [], stream_start_s=None) == []


def test_only_the_newest_accepted_rows_are_compared_and_rejections_never() -> None:
    rows = [row(n, float(n)) for n in range(1, 31)] + [row(31, 31.0, outcome="RecordSetExists")]
    found = missing_batches(rows, ["change-000030"], stream_start_s=0.0, recent_max=3)
    assert [r.change_id for r in found] == ["change-000028", "change-000029"]


async def test_a_stream_too_long_to_read_is_left_unchecked_never_reported_twice(
        tmp_path: Path, redis_client: aioredis.Redis[bytes], monkeypatch: Any, capsys: Any) -> None:
    # More entries since the rows compared than are read: change-000003's own event could be among the
    # unread ones, so nothing is appended (it would be a second event for one batch).
    monkeypatch.setattr(lost_events, "PAGE", 2)
    monkeypatch.setattr(lost_events, "ENTRIES_READ_MAX", 4)
    engine, _ = await committed_and_reported(tmp_path, redis_client, lost="change-000002")
    for n in range(6):
        await append_event(redis_client, Event(time.time(), "planner", "plan_created", f"plan-{n:06d}"), stream=STREAM)
    before = len(await stream_events(redis_client))
    assert await recover_lost_events(engine.audit, redis_client, stream=STREAM, zone=ZONE, service="dns-admin") == []
    assert len(await stream_events(redis_client)) == before
    assert "TooManyEntries" in capsys.readouterr().err
