"""python3 -m dnsrace_ec2.launcher — asks the lease manager for instances at a steady rate.

Every 1/LAUNCH_RATE_PER_S seconds one launch: a droplet from the lease manager (POST {DWFM_URL}/launch),
then, when NETMGR_URL is set, the instance started on it (POST {NETMGR_URL}/launches: Network Manager
queues its networking, or, in its safe design, tells the launch to wait while it is behind); each call
bounded by LAUNCH_TIMEOUT_MS. Once a second one figures line (`launch_window` in dnsrace:figures):
launches ok, insufficient capacity, throttled (request limit exceeded), told to wait (network state
behind) and unanswered. Customers' view of the cascade.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter

import aiohttp

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error
from dnsrace.deadline import within
from dnsrace.events import RedisEventSink
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.keys import FIGURES_STREAM
from dnsrace_ec2.steady import at_rate, stop_on_signals

OUTCOMES = {200: "ok", 503: "insufficient_capacity", 429: "throttled"}
NETMGR_OUTCOMES = {201: "ok", 429: "waiting"}
ALIVE_FILE = "/tmp/launcher-alive"   # touched on every launch: compose's healthcheck reads its age


async def launch(session: aiohttp.ClientSession, url: str, timeout_s: float, netmgr_url: str = "") -> str:
    async def call(target: str, outcomes: dict[int, str]) -> str:
        async with session.post(target) as response:
            await response.read()
            return outcomes.get(response.status, f"http_{response.status}")
    try:
        outcome = await within(timeout_s, call(f"{url}/launch", OUTCOMES))
        if outcome != "ok" or not netmgr_url:
            return outcome
        return await within(timeout_s, call(f"{netmgr_url}/launches", NETMGR_OUTCOMES))
    except (aiohttp.ClientError, OSError, TimeoutError):
        return "unanswered"


async def run() -> None:
    try:
        url = env_str("DWFM_URL").rstrip("/")
        rate = env_int("LAUNCH_RATE_PER_S", 5, minimum=1, maximum=1000)
        timeout_s = env_int("LAUNCH_TIMEOUT_MS", 2000, minimum=10, maximum=60_000) / 1000
        redis_url, service = env_str("REDIS_URL"), env_str("SERVICE_NAME", "launcher")
        netmgr_url = os.environ.get("NETMGR_URL", "").rstrip("/")   # unset: launches end at the droplet
    except ConfigError as error:
        exit_on_config_error("launcher", error)
    figures = RedisEventSink(redis_url, service=service, stream=FIGURES_STREAM, echo=False)
    await figures.start()
    stop = stop_on_signals()

    async def each_second(window: Counter[str]) -> None:
        await figures.emit("launch_window", rate_per_s=rate, ok=window.get("ok", 0),
                           insufficient_capacity=window.get("insufficient_capacity", 0),
                           throttled=window.get("throttled", 0), waiting=window.get("waiting", 0),
                           unanswered=window.get("unanswered", 0),
                           other={k: v for k, v in window.items() if k not in (*OUTCOMES.values(), "waiting", "unanswered")})

    async with aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE) as session:
        await at_rate(stop, rate, ALIVE_FILE, lambda: launch(session, url, timeout_s, netmgr_url), each_second)
    await figures.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
