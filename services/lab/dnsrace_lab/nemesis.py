"""Faults on one enactor: its network paths through Toxiproxy, and its process through docker.
The nemesis only injects; it judges nothing.

Faults come in named pairs, and each start and stop is an event in the history (service `lab`):
    hold(enactor, path) / release(enactor, path)   the enactor's requests on `path` ("dns-admin" or
                                                   "redis") wait inside Toxiproxy (a latency toxic far
                                                   longer than the wait); removing it lets them through
    slow(enactor)       / unslow(enactor)          the enactor's requests to dns-admin each take SLOW_MS
                                                   longer: a slow path, and with it a long lock tenure
    pause(enactor)      / unpause(enactor)         `docker pause`: the process is frozen mid-step, as
                                                   by a stalled VM or a long GC pause
    heal()                                         every toxic removed, every proxy enabled, every
                                                   enactor unpaused
All of it is real traffic through a real proxy, or a real frozen process; nothing in the enactor's
code is told about it.
"""

from __future__ import annotations

import asyncio
import subprocess

from dnsrace.events import RedisEventSink
from dnsrace.toxiproxy import ToxiproxyClient

HOLD_TOXIC = "nemesis-hold"
SLOW_TOXIC = "nemesis-slow"
SLOW_MS = 1_000
HOLD_LATENCY_MS = 600_000  # far beyond any hold the scenarios use; release() ends it early
DOCKER_TIMEOUT_S = 20.0

_WHY = {"dns-admin": "its requests to dns-admin wait inside Toxiproxy",
        "redis": "its requests to Redis (the lock's release, its events, its next plan) wait inside Toxiproxy"}


class Nemesis:
    def __init__(self, toxiproxy: ToxiproxyClient, events: RedisEventSink, *, containers: dict[str, str]) -> None:
        self._toxiproxy = toxiproxy
        self._events = events
        self._containers = containers  # service -> container id, for pause/unpause
        self._paused: set[str] = set()

    async def hold(self, enactor: str, path: str = "dns-admin") -> None:
        proxy = f"{enactor}-{path}"
        await self._toxiproxy.add_toxic(proxy, name=HOLD_TOXIC, type="latency", stream="upstream",
                                        latency=HOLD_LATENCY_MS, jitter=0)
        await self._events.emit("fault_started", fault=f"hold-{path}", target=enactor, proxy=proxy, why=_WHY[path])

    async def release(self, enactor: str, path: str = "dns-admin") -> None:
        proxy = f"{enactor}-{path}"
        await self._toxiproxy.remove_toxic(proxy, HOLD_TOXIC)
        await self._events.emit("fault_stopped", fault=f"hold-{path}", target=enactor, proxy=proxy,
                                why="held requests go through now")

    async def slow(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.add_toxic(proxy, name=SLOW_TOXIC, type="latency", stream="upstream",
                                        latency=SLOW_MS, jitter=0)
        await self._events.emit("fault_started", fault="slow-dns-admin", target=enactor, proxy=proxy,
                                why=f"each of its requests to dns-admin takes {SLOW_MS} ms longer")

    async def unslow(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.remove_toxic(proxy, SLOW_TOXIC)
        await self._events.emit("fault_stopped", fault="slow-dns-admin", target=enactor, proxy=proxy,
                                why="its path to dns-admin is fast again")

    async def pause(self, enactor: str) -> None:
        await self._docker("pause", enactor)
        self._paused.add(enactor)
        await self._events.emit("fault_started", fault="pause", target=enactor, proxy=None,
                                why="docker pause: the process is frozen where it stands")

    async def unpause(self, enactor: str) -> None:
        await self._docker("unpause", enactor)
        self._paused.discard(enactor)
        await self._events.emit("fault_stopped", fault="pause", target=enactor, why="docker unpause: it runs on")

    async def heal(self) -> None:
        for enactor in sorted(self._paused):
            await self._docker("unpause", enactor)
        self._paused.clear()
        await self._toxiproxy.reset()
        await self._events.emit("fault_stopped", fault="all", why="every toxic removed, every proxy enabled")

    async def _docker(self, verb: str, enactor: str) -> None:
        command = ["docker", verb, self._containers[enactor]]
        result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True,
                                         timeout=DOCKER_TIMEOUT_S)
        if result.returncode != 0 and "is not paused" not in result.stderr:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
