"""python3 -m dnsrace_planner — publish plan N+1 on every change of health or weights, and on a tick.

The loop: observe every backend (bounded by HEALTH_TIMEOUT_MS), emit an event for each change of
health, and publish a plan when the healthy set changed or PLAN_TICK_MS has passed since the last
one. With no healthy backend at all it publishes nothing (an empty plan is never right) and says so.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
import redis.asyncio as aioredis

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error
from dnsrace.deadline import sleep_or_stop, stray_cancellation
from dnsrace.events import EventSink, RedisEventSink
from dnsrace.healthcheck import touch
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.plan_store import PlanStore
from dnsrace.plans import MalformedPlan, Plan, Target, normalize_endpoint
from dnsrace.rules import targets_differ

from .health import Backend, Observation, observe

ALIVE_FILE = "/tmp/planner-alive"
REDIS_TIMEOUT_S = 5.0


def as_targets(observations: list[Observation]) -> list[Target]:
    """Healthy backends as plan targets; two names on one address count once (a plan never repeats one)."""
    targets: dict[str, Target] = {}
    for o in observations:
        if o.healthy and o.address and o.address not in targets:
            targets[o.address] = Target(o.backend, o.address, o.capacity)
    return list(targets.values())


@dataclass
class Planner:
    """The planner's one decision per round of health checks, and what it remembers between rounds.

    A plan is published when the healthy set (or a weight) changed, when PLAN_TICK_MS has passed since
    the last one, and on the first round. With no healthy backend it publishes nothing, ever (an empty
    plan would empty the endpoint: the outage itself), and says so once per such spell.
    """

    store: PlanStore
    events: EventSink
    endpoints: tuple[str, ...]
    tick_ms: int
    clock: Callable[[], float] = time.monotonic
    health: dict[str, Observation] = field(default_factory=dict)
    published: list[tuple[str, str, int]] | None = None  # the targets of the last plan; [] while withheld
    last_publish: float = 0.0

    async def round(self, observations: Sequence[Observation]) -> Plan | None:
        """Report what changed in `observations`; publish a plan if one is due. Returns it, if any."""
        for o in observations:
            before = self.health.get(o.backend)
            if before is None or before.healthy != o.healthy or before.address != o.address:
                await self.events.emit("backend_healthy" if o.healthy else "backend_unhealthy",
                                       backend=o.backend, address=o.address, capacity=o.capacity, why=o.why)
            self.health[o.backend] = o
        targets = as_targets(list(observations))
        keys = [(t.backend, t.address, t.weight) for t in targets]
        changed = self.published is not None and targets_differ(self.published, keys)
        due = self.clock() - self.last_publish >= self.tick_ms / 1000
        if not (changed or due or self.published is None):
            return None
        if not targets:
            if self.published is None or self.published:
                await self.events.emit("plan_withheld", why="no healthy backend; an empty plan is never published")
            self.published = []
            return None
        try:
            plan = await self.store.publish(self.endpoints, targets, reason="health changed" if changed else "tick")
        except (aioredis.RedisError, OSError, TimeoutError, MalformedPlan) as error:
            await self.events.emit("plan_not_published", error=f"{type(error).__name__}: {error}")
            return None
        self.published, self.last_publish = keys, self.clock()
        await self.events.emit("plan_created", plan=plan.id, generation=plan.generation, reason=plan.reason,
                               targets=[f"{t.backend}={t.address}/w{t.weight}" for t in targets])
        return plan


async def run() -> None:
    try:
        service = env_str("SERVICE_NAME", "planner")
        redis_url = env_str("REDIS_URL")
        zone = env_str("ZONE", "lab.test")
        endpoints = tuple(normalize_endpoint(e, zone=zone) for e in env_str("ENDPOINT").split(","))
        backends = Backend.parse_list(env_str("BACKENDS"))
        tick_ms = env_int("PLAN_TICK_MS", 2000, minimum=100, maximum=3_600_000)
        interval_ms = env_int("HEALTH_INTERVAL_MS", 500, minimum=50, maximum=60_000)
        health_timeout_ms = env_int("HEALTH_TIMEOUT_MS", 1000, minimum=50, maximum=30_000)
    except (ConfigError, ValueError) as error:  # MalformedPlan is a ValueError: ENDPOINT names the bad one
        exit_on_config_error("planner", ConfigError(str(error)))

    redis = aioredis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    events = RedisEventSink(redis_url, service=service)
    await events.start()
    planner = Planner(PlanStore(redis, zone=zone, timeout_s=REDIS_TIMEOUT_S), events, endpoints, tick_ms)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)

    await events.emit("planner_started", backends=[b.name for b in backends], tick_ms=tick_ms, endpoints=list(endpoints))
    async with aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE) as session:
        while not stop.is_set():
            touch(ALIVE_FILE)
            try:
                observations = await asyncio.gather(*(observe(session, b, timeout_s=health_timeout_ms / 1000)
                                                      for b in backends))
                await planner.round(observations)
            except asyncio.CancelledError:
                if stop.is_set():
                    raise
                # Nothing cancels the planner but its stop: a CancelledError here came out of a library.
                # It is said and the next round goes on; the planner never dies of one silently.
                stray = stray_cancellation("the planner's round")
                await events.emit("planner_round_failed", error=f"{type(stray).__name__}: {stray}")
            await sleep_or_stop(stop, interval_ms / 1000)
    await events.emit("planner_stopped")
    await events.close()
    await redis.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
