"""python3 -m dnsrace_ec2.launcher — asks the lease manager for instances at a steady rate.

Every 1/LAUNCH_RATE_PER_S seconds one launch (POST {DWFM_URL}/launch, bounded by LAUNCH_TIMEOUT_MS); once
a second one figures line (`launch_window` in dnsrace:figures): launches ok, insufficient capacity,
throttled (request limit exceeded) and unanswered. Customers' view of the cascade.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import aiohttp

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error
from dnsrace.deadline import sleep_or_stop, within
from dnsrace.events import RedisEventSink
from dnsrace.healthcheck import touch
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.keys import FIGURES_STREAM

OUTCOMES = {200: "ok", 503: "insufficient_capacity", 429: "throttled"}
ALIVE_FILE = "/tmp/launcher-alive"   # touched on every launch: compose's healthcheck reads its age


async def launch(session: aiohttp.ClientSession, url: str, timeout_s: float) -> str:
    async def call() -> str:
        async with session.post(f"{url}/launch") as response:
            await response.read()
            return OUTCOMES.get(response.status, f"http_{response.status}")
    try:
        return await within(timeout_s, call())
    except (aiohttp.ClientError, OSError, TimeoutError):
        return "unanswered"


async def run() -> None:
    try:
        url = env_str("DWFM_URL").rstrip("/")
        rate = env_int("LAUNCH_RATE_PER_S", 5, minimum=1, maximum=1000)
        timeout_s = env_int("LAUNCH_TIMEOUT_MS", 2000, minimum=10, maximum=60_000) / 1000
        redis_url, service = env_str("REDIS_URL"), env_str("SERVICE_NAME", "launcher")
    except ConfigError as error:
        exit_on_config_error("launcher", error)
    figures = RedisEventSink(redis_url, service=service, stream=FIGURES_STREAM, echo=False)
    await figures.start()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    counts: Counter[str] = Counter()
    pending: set[asyncio.Task[None]] = set()

    async def one(session: aiohttp.ClientSession) -> None:
        counts[await launch(session, url, timeout_s)] += 1

    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE) as session:
        next_figures = loop.time() + 1.0
        while not stop.is_set():
            touch(ALIVE_FILE)
            task = asyncio.create_task(one(session))
            pending.add(task)
            task.add_done_callback(pending.discard)
            if loop.time() >= next_figures:
                next_figures += 1.0
                window, counts = dict(counts), Counter()
                await figures.emit("launch_window", rate_per_s=rate, ok=window.get("ok", 0),
                                   insufficient_capacity=window.get("insufficient_capacity", 0),
                                   throttled=window.get("throttled", 0), unanswered=window.get("unanswered", 0),
                                   other={k: v for k, v in window.items() if k not in (*OUTCOMES.values(), "unanswered")})
            await sleep_or_stop(stop, 1.0 / rate)
        await asyncio.gather(*pending, return_exceptions=True)
    await figures.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
