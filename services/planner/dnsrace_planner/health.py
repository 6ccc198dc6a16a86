"""Health checks of the backends over HTTP (the edge of the planner: DNS lookup + one GET each)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

import aiohttp

from dnsrace.deadline import within

__all__ = ["Backend", "Observation", "observe"]


@dataclass(frozen=True)
class Backend:
    name: str
    port: int

    @classmethod
    def parse_list(cls, text: str) -> tuple[Backend, ...]:
        """'backend-1:8080,backend-2:8080' -> backends; ValueError naming the bad entry."""
        backends = []
        for entry in (part.strip() for part in text.split(",")):
            name, _, port = entry.partition(":")
            # A host name (it becomes a plan target's `backend`, which plans bound to 64 characters).
            if (re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]{0,63}", name) is None or re.fullmatch(r"[0-9]{1,5}", port) is None
                    or not 1 <= int(port) <= 65535):
                raise ValueError(f"backend {entry!r} is not NAME:PORT")
            backends.append(cls(name, int(port)))
        if not backends or len({b.name for b in backends}) != len(backends):
            raise ValueError("backends must be a non-empty list of distinct NAME:PORT")
        return tuple(backends)


@dataclass(frozen=True)
class Observation:
    backend: str
    address: str | None
    healthy: bool
    capacity: int
    why: str  # "ok", or what went wrong, for the event


async def observe(session: aiohttp.ClientSession, backend: Backend, *, timeout_s: float) -> Observation:
    loop = asyncio.get_running_loop()
    try:
        # Each call has one deadline, in a task of its own (dnsrace.deadline says why).
        infos = await within(timeout_s, loop.getaddrinfo(backend.name, backend.port, family=socket.AF_INET,
                                                         type=socket.SOCK_STREAM))
        address = str(ipaddress.IPv4Address(infos[0][4][0]))
    except (OSError, TimeoutError, IndexError) as error:
        return Observation(backend.name, None, False, 0, f"no address: {error}")
    try:
        return await within(timeout_s, _ask_health(session, backend, address))
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:
        return Observation(backend.name, address, False, 0, f"{type(error).__name__}: {error}")


async def _ask_health(session: aiohttp.ClientSession, backend: Backend, address: str) -> Observation:
    async with session.get(f"http://{address}:{backend.port}/health") as response:
        if response.status != 200:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
            reported = body.get("capacity") if isinstance(body, dict) else None
            capacity = reported if isinstance(reported, int) and not isinstance(reported, bool) and 0 <= reported <= 255 else 0
            return Observation(backend.name, address, False, capacity, f"HTTP {response.status}")
        body = await response.json(content_type=None)
        given = body.get("capacity") if isinstance(body, dict) else None
        if not isinstance(given, int) or isinstance(given, bool) or not 0 <= given <= 255:
            return Observation(backend.name, address, False, 0, f"bad capacity {given!r}")
        return Observation(backend.name, address, True, given, "ok")
