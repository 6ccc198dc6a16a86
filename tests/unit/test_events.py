"""dnsrace.events: the Event record, read_events' ordering, and RedisEventSink (against a real Redis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis.asyncio as aioredis

from dnsrace import events as events_module
from dnsrace.events import Event, RedisEventSink, read_events


# --- Event -------------------------------------------------------------------------------------------


def test_an_event_round_trips_through_json_text() -> None:
    event = Event(t=1_760_000_000.125, service="enactor-a", kind="endpoint_pointed", plan="plan-000145", token=42,
                  detail={"endpoint": "dynamodb.us-east-1.lab.test", "rollback": None, "addresses": ["10.0.0.1"]},
                  seq=1234)
    text = json.dumps(event.to_json())
    assert Event.from_json(json.loads(text)) == event


def test_to_json_has_exactly_the_stream_fields() -> None:
    event = Event(t=1.0, service="planner", kind="plan_created", plan="plan-000001")
    assert event.to_json() == {"seq": None, "t": 1.0, "service": "planner", "kind": "plan_created",
                               "plan": "plan-000001", "token": None, "detail": {}}


def test_from_json_fills_missing_optional_fields_and_takes_seq_from_the_stream() -> None:
    event = Event.from_json({"t": "5", "service": "dns-admin", "kind": "zone_rendered", "detail": None}, seq=9)
    assert event == Event(t=5.0, service="dns-admin", kind="zone_rendered", plan=None, token=None, detail={}, seq=9)
    assert Event.from_json({"t": 1, "service": "s", "kind": "k", "seq": 3}, seq=7).seq == 7
    assert Event.from_json({"t": 1, "service": "s", "kind": "k", "seq": 3}).seq == 3


def test_from_json_copies_the_detail_so_the_event_does_not_share_it() -> None:
    detail = {"attempt": 1}
    event = Event.from_json({"t": 1, "service": "s", "kind": "lock_refused", "detail": detail})
    detail["attempt"] = 2
    assert event.detail == {"attempt": 1}


@pytest.mark.parametrize("missing", ["t", "service", "kind"])
def test_from_json_refuses_an_event_without_a_required_field(missing: str) -> None:
    obj = {"t": 1.0, "service": "s", "kind": "k"}
    del obj[missing]
    with pytest.raises(KeyError):
        Event.from_json(obj)


# --- read_events, over a fake stream ------------------------------------------------------------------


class FakeStream:
    """Answers XREVRANGE as Redis does: newest entry first, field names as bytes."""

    def __init__(self, entries: list[tuple[int, dict[str, Any]]]) -> None:
        self.entries = entries  # (seq, event without seq), in append order
        self.asked: list[tuple[str, int]] = []

    async def xrevrange(self, stream: str, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        self.asked.append((stream, count))
        rows = [(f"{n}-0".encode(), {b"seq": str(seq).encode(), b"event": json.dumps(obj).encode()})
                for n, (seq, obj) in enumerate(self.entries)]
        return list(reversed(rows))[:count]


def raw(t: float, kind: str, service: str = "enactor-a") -> dict[str, Any]:
    return {"t": t, "service": service, "kind": kind, "plan": None, "token": None, "detail": {}}


async def test_read_events_orders_by_decision_time_not_by_arrival() -> None:
    # enactor-b decided at t=10 but its events reached Redis late (seq 3 and 4): the slowed enactor.
    stream = FakeStream([(1, raw(11.0, "endpoint_pointed", "enactor-c")),
                         (2, raw(12.0, "cleanup_deleted", "enactor-c")),
                         (3, raw(10.0, "check_passed", "enactor-b")),
                         (4, raw(11.5, "endpoint_pointed", "enactor-b"))])
    read = await read_events(stream, stream="lab:events", count=50)  # type: ignore[arg-type]
    assert [(e.seq, e.service, e.kind) for e in read] == [
        (3, "enactor-b", "check_passed"), (1, "enactor-c", "endpoint_pointed"),
        (4, "enactor-b", "endpoint_pointed"), (2, "enactor-c", "cleanup_deleted")]
    assert stream.asked == [("lab:events", 50)]


async def test_read_events_breaks_ties_in_time_by_seq() -> None:
    stream = FakeStream([(7, raw(1.0, "a")), (5, raw(1.0, "b")), (6, raw(1.0, "c"))])
    read = await read_events(stream)  # type: ignore[arg-type]
    assert [e.seq for e in read] == [5, 6, 7]


async def test_read_events_returns_only_the_newest_count() -> None:
    stream = FakeStream([(n, raw(float(n), f"k{n}")) for n in range(1, 11)])
    read = await read_events(stream, count=3)  # type: ignore[arg-type]
    assert [e.seq for e in read] == [8, 9, 10]


# --- RedisEventSink without a server -----------------------------------------------------------------


async def test_emit_echoes_one_json_line_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    sink = RedisEventSink("redis://127.0.0.1:1/0", service="enactor-a", echo=True)
    await sink.emit("lock_acquired", plan="plan-000145", token=42, endpoint="ep.lab.test", attempt=3)
    line = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in line.items() if k != "t"} == {
        "seq": None, "service": "enactor-a", "kind": "lock_acquired", "plan": "plan-000145", "token": 42,
        "detail": {"endpoint": "ep.lab.test", "attempt": 3}}


async def test_emit_drops_and_counts_when_the_queue_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "QUEUE_LENGTH_MAX", 2)
    sink = RedisEventSink("redis://127.0.0.1:1/0", service="enactor-a", echo=False)
    for kind in ("a", "b", "c", "d"):
        await sink.emit(kind)
    assert sink.dropped_count == 2


async def test_close_with_nothing_drained_gives_up_after_its_bound_and_says_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    sink = RedisEventSink("redis://127.0.0.1:1/0", service="enactor-a", echo=False)
    await sink.emit("check_passed")  # no writer was started, so nothing ever drains it
    await sink.close(flush_timeout_s=0.05)
    report = json.loads(capsys.readouterr().err)
    assert report == {"service": "enactor-a", "kind": "events_not_flushed", "detail": {"queued": 1}}


async def test_a_redis_that_never_answers_costs_the_events_not_the_writer(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], silent_port: int) -> None:
    sink = RedisEventSink(f"redis://127.0.0.1:{silent_port}/0", service="enactor-a", echo=False)
    # After construction: the client keeps its own 30 s socket timeout, so the sink's deadline fires first.
    monkeypatch.setattr(events_module, "WRITE_TIMEOUT_S", 0.05)
    monkeypatch.setattr(events_module, "RETRY_DELAY_S", 0.0)
    await sink.start()
    await sink.emit("check_passed")
    await sink.emit("lock_acquired")
    await sink.close(flush_timeout_s=20)
    # Each event was tried, timed out and given up, and the writer lived on to try the next one.
    assert sink.dropped_count == 2
    reports = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [r["detail"]["event"] for r in reports if r["kind"] == "event_not_stored"] == ["check_passed", "lock_acquired"]


# --- RedisEventSink against a real redis-server (conftest.py) ----------------------------------------


async def test_sinks_append_gap_free_seqs_and_read_back_in_decision_order(redis_url: str,
                                                                          redis_client: aioredis.Redis) -> None:
    fast = RedisEventSink(redis_url, service="enactor-a", stream="lab:events", echo=False)
    slow = RedisEventSink(redis_url, service="enactor-b", stream="lab:events", echo=False)
    await fast.start()
    await slow.start()
    for n in range(1, 6):
        await fast.emit("lock_acquired", plan=f"plan-{n:06d}", token=n, attempt=1)
    await fast.close()
    for n in range(1, 4):
        await slow.emit("lock_refused", plan="plan-000002", attempt=n)
    await slow.close()
    assert (fast.dropped_count, slow.dropped_count) == (0, 0)

    read = await read_events(redis_client, stream="lab:events", count=100)
    assert sorted(e.seq for e in read if e.seq is not None) == list(range(1, 9))
    assert [e.t for e in read] == sorted(e.t for e in read)
    assert [(e.service, e.kind, e.plan, e.token) for e in read] == [
        *(("enactor-a", "lock_acquired", f"plan-{n:06d}", n) for n in range(1, 6)),
        *(("enactor-b", "lock_refused", "plan-000002", None) for _ in range(3))]
    assert [e.detail["attempt"] for e in read[5:]] == [1, 2, 3]
    assert int(await redis_client.get("lab:events:seq")) == 8
