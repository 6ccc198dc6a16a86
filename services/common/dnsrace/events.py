"""Events: every decision a service makes, as one record in one Redis stream — the history.

    {seq, t, service, kind, plan, token, detail}

`seq` is global and gap-free (a Redis counter taken in the same script that appends), so a responder
can say "event #1234" and everybody finds it. `t` is the wall clock at the moment of the decision,
taken by the service that decided; the timeline orders by it, because a slowed enactor's events
reach Redis late — exactly the enactor whose events matter most.

Emitting never blocks a decision and never fails it: events go into a bounded queue that one writer
task drains into Redis (with a timeout on every call). Each event is also printed as one JSON line on
stdout, so `docker-compose logs` holds the history even while Redis is unreachable.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from .deadline import within
from .keys import EVENTS_STREAM

__all__ = ["Event", "EventSink", "RedisEventSink", "append_event", "read_events", "STREAM_DEFAULT"]

STREAM_DEFAULT = EVENTS_STREAM
STREAM_LENGTH_MAX = 200_000
QUEUE_LENGTH_MAX = 10_000
WRITE_TIMEOUT_S = 30.0
RETRY_DELAY_S = 0.5

# One round trip: take the next sequence number and append under it.
_APPEND = """
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'seq', seq, 'event', ARGV[1])
return seq
"""


class EventSink(Protocol):
    """Where a service reports its decisions (RedisEventSink; a recorder in unit tests)."""

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None: ...


@dataclass(frozen=True)
class Event:
    t: float
    service: str
    kind: str
    plan: str | None = None
    token: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "t": self.t, "service": self.service, "kind": self.kind,
                "plan": self.plan, "token": self.token, "detail": self.detail}

    @classmethod
    def from_json(cls, obj: dict[str, Any], seq: int | None = None) -> Event:
        return cls(t=float(obj["t"]), service=str(obj["service"]), kind=str(obj["kind"]),
                   plan=obj.get("plan"), token=obj.get("token"), detail=dict(obj.get("detail") or {}),
                   seq=seq if seq is not None else obj.get("seq"))


def stream_keys(stream: str) -> tuple[str, str]:
    return stream, f"{stream}:seq"


async def append_event(redis: aioredis.Redis[bytes], event: Event, *, stream: str = STREAM_DEFAULT,
                       timeout_s: float | None = None) -> int:
    """Append one event under the next sequence number (one round trip); its seq. The writer's one
    way in, and the way dns-admin reports again a batch whose event a crash lost (its own `t`)."""
    payload = json.dumps({k: v for k, v in event.to_json().items() if k != "seq"}, default=str)
    script = redis.register_script(_APPEND)
    seq = await within(WRITE_TIMEOUT_S if timeout_s is None else timeout_s,
                       script(keys=list(stream_keys(stream)), args=[payload, STREAM_LENGTH_MAX]))
    return int(seq)


class RedisEventSink:
    """Appends events to the stream from a background writer; see the module docstring."""

    def __init__(self, redis_url: str, *, service: str, stream: str = STREAM_DEFAULT,
                 echo: bool = True) -> None:
        self._redis = aioredis.from_url(redis_url, socket_timeout=WRITE_TIMEOUT_S,
                                        socket_connect_timeout=5.0)
        self._service = service
        self._stream = stream
        self._echo = echo
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_LENGTH_MAX)
        self._writer: asyncio.Task[None] | None = None
        self.dropped_count = 0

    async def start(self) -> None:
        self._writer = asyncio.create_task(self._drain(), name=f"events-{self._service}")

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None,
                   **detail: Any) -> None:
        event = Event(time.time(), self._service, kind, plan, token, detail)
        if self._echo:
            print(json.dumps(event.to_json(), default=str), flush=True)
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_count += 1  # bounded on purpose: a dead Redis must not eat the memory

    async def close(self, flush_timeout_s: float = 5.0) -> None:
        """Flush what is queued (bounded), then stop the writer."""
        try:
            await within(flush_timeout_s, self._queue.join())
        except TimeoutError:
            print(json.dumps({"service": self._service, "kind": "events_not_flushed",
                              "detail": {"queued": self._queue.qsize()}}), file=sys.stderr, flush=True)
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        await self._redis.close()

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            # Retry a failed append a bounded number of times; then the stdout copy is all there is.
            for attempt in range(5):
                try:
                    await append_event(self._redis, event, stream=self._stream)
                    break
                except (aioredis.RedisError, OSError, TimeoutError) as error:
                    if attempt == 4:
                        self.dropped_count += 1
                        print(json.dumps({"service": self._service, "kind": "event_not_stored",
                                          "detail": {"event": event.kind, "error": repr(error)}}),
                              file=sys.stderr, flush=True)
                    else:
                        await asyncio.sleep(RETRY_DELAY_S)
            self._queue.task_done()


async def read_events(redis: aioredis.Redis[bytes], *, stream: str = STREAM_DEFAULT, count: int = 200,
                      timeout_s: float = 5.0) -> list[Event]:
    """The newest `count` events, oldest first by decision time."""
    rows = await within(timeout_s, redis.xrevrange(stream, count=count))
    events = []
    for _entry_id, fields in rows:
        raw = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        obj = json.loads(raw["event"])
        events.append(Event.from_json(obj, seq=int(raw["seq"])))
    return sorted(events, key=lambda e: (e.t, e.seq or 0))
