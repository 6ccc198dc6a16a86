"""The console's edges: the event stream (kept incrementally), CoreDNS's answers, the planner's plans.

Every call has a timeout; a failure becomes part of what is shown (a silent resolver, a stream that
could not be read just now), never an exception on the page.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections import deque
from collections.abc import Iterable
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import redis.asyncio as aioredis

from dnsrace.deadline import within
from dnsrace.events import Event
from dnsrace.keys import FIGURES_STREAM, PLANS_LATEST, plan_key
from dnsrace.zone_history import batches_from_events

from .now import Answer
from .status import History

__all__ = ["EventWindow", "ask_coredns", "read_figures", "read_plans"]

CALL_TIMEOUT_S = 2.0
READ_COUNT = 2_000              # entries per XRANGE: a refresh after a busy minute takes a few calls
READ_CALLS_MAX = 20             # per refresh; the rest is read by the next one


class EventWindow:
    """The newest `kept_max` events of the stream, read incrementally (only what is new is parsed), and
    each enactor's last `enactor_started`, remembered past the window (its mode, when it is quiet). A
    stream that went back (the lab's reset flushes Redis) is read again from its start."""

    def __init__(self, redis: aioredis.Redis, *, stream: str, kept_max: int) -> None:
        self._redis = redis
        self._stream = stream
        self._kept_max = kept_max
        self._events: deque[Event] = deque(maxlen=kept_max)
        self._last_id: str | None = None
        self._remembered: dict[str, Event] = {}
        self._unreadable = 0
        self._error: str | None = None
        self._lock = asyncio.Lock()

    def history(self) -> History:
        return History(list(self._events), kept_max=self._kept_max, unreadable=self._unreadable,
                       remembered=self._remembered, error=self._error)

    async def refresh(self) -> History:
        async with self._lock:
            try:
                await self._refresh()
                self._error = None
            except (aioredis.RedisError, OSError, TimeoutError) as error:
                self._error = f"the event stream could not be read: {type(error).__name__}: {error}"
            return self.history()

    async def _refresh(self) -> None:
        newest = await _within(self._redis.xrevrange(self._stream, count=1))
        if not newest:
            self._forget()
            return
        newest_id = newest[0][0].decode()
        if self._last_id is not None and _id_order(newest_id) < _id_order(self._last_id):
            self._forget()   # the stream was flushed and begun again
        if self._last_id is None:
            rows = await _within(self._redis.xrevrange(self._stream, count=self._kept_max))
            self._take(reversed(rows))
            return
        for _ in range(READ_CALLS_MAX):
            rows = await _within(self._redis.xrange(self._stream, min=f"({self._last_id}", count=READ_COUNT))
            self._take(rows)
            if len(rows) < READ_COUNT:
                return

    def _forget(self) -> None:
        self._events.clear()
        self._remembered.clear()
        self._last_id = None

    def _take(self, rows: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, fields in rows:
            self._last_id = entry_id.decode()
            try:
                event = Event.from_json(json.loads(fields[b"event"]), seq=int(fields[b"seq"]))
                # A batch the zone's replay cannot read is unreadable too: one written before dns-admin's
                # events carried structured changes (UnstructuredChanges, a ValueError) precedes every
                # newer one, so leaving it out only starts the window later, as a window may.
                batches_from_events([event])
            except (KeyError, ValueError, TypeError, AttributeError):
                self._unreadable += 1    # counted and shown: a malformed entry is never silently dropped
                continue
            self._events.append(event)
            if event.kind == "enactor_started":
                self._remembered[event.service] = event


def _id_order(entry_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)


async def _within(awaitable: Any) -> Any:
    # A Redis call's one deadline, in a task of its own: redis-py's own deadlines leave cancel requests
    # behind in the task they run in, which must not be the request's (dnsrace.deadline says why).
    return await within(CALL_TIMEOUT_S, awaitable)


async def _ask_udp(host: str, port: int, name: str) -> dns.message.Message:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
    # No deadline of dnspython's own (timeout=None): the caller's within() is the only one.
    return await dns.asyncquery.udp(dns.message.make_query(name, dns.rdatatype.A), infos[0][4][0], port=port,
                                    timeout=None)


async def ask_coredns(host: str, port: int, name: str, *, view: str) -> Answer:
    """CoreDNS's answer for `name`'s A records, as a client gets it (UDP); no answer is an Answer too."""
    server = f"{host}:{port}"
    try:
        response = await within(CALL_TIMEOUT_S, _ask_udp(host, port, name))
    except (OSError, TimeoutError, dns.exception.DNSException, IndexError) as error:
        return Answer(view, server, None, error=f"{type(error).__name__}: {error}"[:200])
    addresses = tuple(sorted(item.address for rrset in response.answer for item in rrset
                             if rrset.rdtype == dns.rdatatype.A))
    soa_ttl = next((rrset.ttl for rrset in response.authority if rrset.rdtype == dns.rdatatype.SOA), None)
    return Answer(view, server, dns.rcode.to_text(response.rcode()), addresses, soa_ttl)


async def read_plans(redis: aioredis.Redis, generations: Iterable[int]) -> tuple[int | None, dict[int, float]]:
    """The planner's newest generation, and when each plan of `generations` (and it) was published."""
    try:
        latest = await _within(redis.get(PLANS_LATEST))
        newest = int(latest) if latest is not None else None
        wanted = sorted({g for g in generations if g} | ({newest} if newest else set()))
        texts = await _within(redis.mget([plan_key(g) for g in wanted])) if wanted else []
    except (aioredis.RedisError, OSError, TimeoutError, ValueError):
        return None, {}
    created = {}
    for generation, text in zip(wanted, texts):
        try:
            created[generation] = float(json.loads(text)["created_at"]) if text else None
        except (ValueError, KeyError, TypeError):
            continue
    return newest, {g: t for g, t in created.items() if t is not None}


async def read_figures(redis: aioredis.Redis, count: int = 60) -> dict[str, Any]:
    """The newest figures line of each kind (dwfm's lease_window, the launcher's launch_window, Network
    Manager's, the load balancer's and the clients'; five lines a second, so 60 hold every kind), each its
    detail with its time; {} when there are none or the stream cannot be read (the cascade alert is then
    simply not shown)."""
    try:
        rows = await _within(redis.xrevrange(FIGURES_STREAM, count=count))
    except (aioredis.RedisError, OSError, TimeoutError):
        return {}
    newest: dict[str, Any] = {}
    for _id, fields in rows:
        try:
            event = json.loads(fields[b"event"])
            newest.setdefault(str(event["kind"]), {**event.get("detail", {}), "t": float(event["t"])})
        except (KeyError, ValueError, TypeError):
            continue
    return newest
