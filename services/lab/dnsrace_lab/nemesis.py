"""Faults on one enactor's own network paths, through Toxiproxy. The nemesis only injects; it judges nothing.

Faults come in named pairs, and each start and stop is an event in the history (service `lab`):
    hold(enactor)   / release()   the enactor's writes to dns-admin wait inside Toxiproxy (a latency toxic
                                  far longer than the wait); removing the toxic lets the held bytes through
    heal()                        every toxic removed, every proxy enabled
All of it is real traffic through a real proxy; nothing in the enactor's code is told about it.
"""

from __future__ import annotations

from dnsrace.events import RedisEventSink
from dnsrace.toxiproxy import ToxiproxyClient

HOLD_TOXIC = "nemesis-hold"
HOLD_LATENCY_MS = 600_000  # far beyond any hold the scenario uses; release() ends it early


class Nemesis:
    def __init__(self, toxiproxy: ToxiproxyClient, events: RedisEventSink) -> None:
        self._toxiproxy = toxiproxy
        self._events = events

    async def hold(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.add_toxic(proxy, name=HOLD_TOXIC, type="latency", stream="upstream",
                                        latency=HOLD_LATENCY_MS, jitter=0)
        await self._events.emit("fault_started", fault="hold", target=enactor, proxy=proxy,
                                why="its requests to dns-admin wait inside Toxiproxy")

    async def release(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.remove_toxic(proxy, HOLD_TOXIC)
        await self._events.emit("fault_stopped", fault="hold", target=enactor, proxy=proxy,
                                why="held requests go through now")

    async def heal(self) -> None:
        await self._toxiproxy.reset()
        await self._events.emit("fault_stopped", fault="all", why="every toxic removed, every proxy enabled")
