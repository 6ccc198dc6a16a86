"""python3 -m dnsrace_ec2.clients — customers' traffic through the load balancer, measured every second.

CLIENT_RATE_PER_S requests a second (GET {NLB_URL}/), each bounded by CLIENT_TIMEOUT_MS; once a second one
figures line (`client_window` in dnsrace:figures): ok, errors by kind (HAProxy's 503 when no target is in
service, its 504 when the target did not answer, timeouts, refused connections) and which target served
each success. What customers of a load-balanced service saw during the incident.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error
from dnsrace.deadline import within
from dnsrace.events import RedisEventSink
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.keys import FIGURES_STREAM
from dnsrace_ec2.steady import at_rate, stop_on_signals

ALIVE_FILE = "/tmp/clients-alive"


async def request(session: aiohttp.ClientSession, url: str, timeout_s: float) -> str:
    """One request: the serving target's name (s01 ...) on a 200, else the kind of error."""
    async def call() -> str:
        async with session.get(f"{url}/") as response:
            body = (await response.read()).decode(errors="replace")
            if response.status == 200 and body[:1] == "s":
                return body.split()[0]
            return f"http_{response.status}"
    try:
        return await within(timeout_s, call())
    except TimeoutError:
        return "timeout"
    except (aiohttp.ClientError, OSError):
        return "connection"


async def run() -> None:
    try:
        url = env_str("NLB_URL").rstrip("/")
        rate = env_int("CLIENT_RATE_PER_S", 20, minimum=1, maximum=1000)
        timeout_s = env_int("CLIENT_TIMEOUT_MS", 1500, minimum=10, maximum=60_000) / 1000
        redis_url, service = env_str("REDIS_URL"), env_str("SERVICE_NAME", "clients")
    except ConfigError as error:
        exit_on_config_error("clients", error)
    figures = RedisEventSink(redis_url, service=service, stream=FIGURES_STREAM, echo=False)
    await figures.start()
    stop = stop_on_signals()

    async def each_second(window: Counter[str]) -> None:
        served = {k: v for k, v in sorted(window.items()) if k.startswith("s")}
        errors = {k: v for k, v in sorted(window.items()) if not k.startswith("s")}
        total = sum(window.values())
        await figures.emit("client_window", rate_per_s=rate, ok=sum(served.values()), errors=sum(errors.values()),
                           by_error=errors, served_by=served,
                           success_rate=round(sum(served.values()) / total, 4) if total else None)

    # A new connection per request: HAProxy then chooses a target for each, as an NLB does per flow.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True, limit=0),
                                     timeout=NO_CLIENT_DEADLINE) as session:
        await at_rate(stop, rate, ALIVE_FILE, lambda: request(session, url, timeout_s), each_second)
    await figures.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
