"""Steady load and the shared read of Network Manager's slots: the edges the launcher, the clients, the
instances and the load balancer's control have in common."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from dnsrace.deadline import sleep_or_stop, within
from dnsrace.healthcheck import touch

SLOTS_TIMEOUT_S = 2.0
# What a failed read of the slots can raise: the caller keeps (or drops) what it had.
SLOT_READ_ERRORS = (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError)


async def read_slots(session: aiohttp.ClientSession, netmgr_url: str) -> dict[str, dict[str, Any]]:
    """GET {netmgr}/slots, by target (s01 ...), bounded by SLOTS_TIMEOUT_S."""
    async def read() -> Any:
        async with session.get(f"{netmgr_url}/slots") as response:
            response.raise_for_status()
            return await response.json()
    return {slot["target"]: slot for slot in await within(SLOTS_TIMEOUT_S, read())}


def stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    return stop


async def at_rate(stop: asyncio.Event, rate_per_s: int, alive_file: str, one: Callable[[], Awaitable[str]],
                  each_second: Callable[[Counter[str]], Awaitable[None]]) -> None:
    """`one()` started rate_per_s times a second, each on its own task (a slow one never delays the next),
    its outcomes counted; once a second the counts so far are handed to `each_second` and start again.
    `alive_file` is touched on every start (compose's healthcheck reads its age)."""
    outcomes: Counter[str] = Counter()
    pending: set[asyncio.Task[None]] = set()

    async def counted() -> None:
        outcome = await one()
        outcomes[outcome] += 1   # the window current when it ended (a slow one counts in the second it ends)

    loop = asyncio.get_running_loop()
    next_figures = loop.time() + 1.0
    while not stop.is_set():
        touch(alive_file)
        task = asyncio.create_task(counted())
        pending.add(task)
        task.add_done_callback(pending.discard)
        if loop.time() >= next_figures:
            next_figures += 1.0
            window, outcomes = outcomes, Counter()
            await each_second(window)
        await sleep_or_stop(stop, 1.0 / rate_per_s)
    await asyncio.gather(*pending, return_exceptions=True)
