"""python3 -m dnsrace_ec2.nlb — the network load balancer's control logic (NLB_MODE=legacy|safe).

HAProxy (the `nlb` container, infra/nlb/haproxy.cfg) carries the clients' traffic and checks nothing;
this service health-checks every target itself (GET /health on the instance, straight, not through
HAProxy), judges the results with nlb_policy.py's row, and puts targets in and out of service with
HAProxy's runtime API (`set server targets/sNN state maint|ready`). Every CHECK_INTERVAL_MS each target
is checked; legacy also re-checks a failing target on every TICK_S, on one pool of HC_WORKERS checkers.
The decisions are taken on every TICK_S from the results so far; every RECONCILE_EVERY_S HAProxy's own
view is read back and any server that disagrees is set again (`nlb_reconciled`: HAProxy restarted).

Netmgr's view of each slot (networked or not) is read once a second only to label the decisions in the
history ("removed while its instance was networked": healthy capacity taken away); it never decides.

Events: nlb_started, nlb_target_removed, nlb_target_restored (target, az, instance, why, networked),
nlb_az_failover (the AZs failed over whole, when that set changes), nlb_fail_open (on/off),
nlb_velocity_held (removals the cap deferred, when that set changes). Figures (once a second):
`nlb_window`: in service, unhealthy, out while networked, checks run / failed / expired waiting for a
checker, check latency, checks waiting.
"""

from __future__ import annotations

import asyncio
import signal
import statistics
import time
from collections import Counter
from typing import Any

import aiohttp

from dnsrace.config import ConfigError, env_choice, env_int, env_str, exit_on_config_error
from dnsrace.deadline import sleep_or_stop, within
from dnsrace.events import EventSink, RedisEventSink
from dnsrace.healthcheck import touch
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.keys import FIGURES_STREAM
from dnsrace_ec2.steady import SLOT_READ_ERRORS, read_slots
from dnsrace_ec2.haproxy_runtime import HaproxyRefused, HaproxyRuntime
from dnsrace_ec2.nlb_policy import (POLICIES, Decision, NlbPolicy, Target, TargetHealth, checks_due, deadline_of,
                                    decide, observe)

AZS = ("a", "b", "c")
BACKEND = "targets"
TICK_S = 0.25
START_WAIT_S = 60.0
RECONCILE_EVERY_S = 10.0
ANSWERING_GRACE_S = 3.0   # networked this long: answering (the checker's Bounds.answering_grace_s)
ALIVE_FILE = "/tmp/nlb-alive"   # touched on every tick: compose's healthcheck reads its age


class Control:
    def __init__(self, policy: NlbPolicy, targets: list[Target], urls: dict[str, str], runtime: HaproxyRuntime,
                 events: EventSink, figures: EventSink, *, interval_s: float, timeout_s: float, workers: int,
                 netmgr_url: str) -> None:
        self.policy, self.targets, self.urls, self.runtime = policy, targets, urls, runtime
        self.events, self.figures = events, figures
        self.interval_s, self.timeout_s, self.netmgr_url = interval_s, timeout_s, netmgr_url
        self.az = {t.name: t.az for t in targets}
        self.health = {t.name: TargetHealth() for t in targets}
        self.in_service = {t.name for t in targets}
        self.removed_at: list[float] = []
        self.in_flight: Counter[str] = Counter()
        self.checkers = asyncio.Semaphore(workers) if policy.shared_checkers else None
        self.truth: dict[str, dict[str, Any]] = {}
        self.last = Decision(remove=(), restore=())
        self.window: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.stop = asyncio.Event()

    # --- checks --------------------------------------------------------------------------------------
    async def check(self, session: aiohttp.ClientSession, name: str, scheduled: float) -> None:
        self.in_flight[name] += 1
        try:
            if self.checkers is None:
                await self.probe(session, name, scheduled)
            else:
                async with self.checkers:
                    await self.probe(session, name, scheduled)
        finally:
            self.in_flight[name] -= 1

    async def probe(self, session: aiohttp.ClientSession, name: str, scheduled: float) -> None:
        started = time.monotonic()
        left = deadline_of(self.policy, scheduled, started, self.timeout_s) - started
        passed = False
        if left <= 0:
            self.window["expired_waiting"] += 1
        else:
            async def get() -> bool:
                async with session.get(f"{self.urls[name]}/health") as response:
                    await response.read()
                    return response.status == 200
            try:
                passed = await within(left, get())
            except (aiohttp.ClientError, OSError, TimeoutError):
                passed = False
        self.window["checks"] += 1
        self.window["failed"] += 0 if passed else 1
        self.latencies.append(time.monotonic() - scheduled)
        self.health[name] = observe(self.health[name], passed)

    # --- decisions -----------------------------------------------------------------------------------
    async def apply(self, decision: Decision) -> None:
        now = time.time()
        for name in decision.remove:
            if not await self.set_state(name, "maint"):
                continue
            self.in_service.discard(name)
            self.removed_at.append(now)
            why = "unhealthy" if not self.health[name].healthy else f"az-{self.az[name]} failed over"
            await self.events.emit("nlb_target_removed", target=name, az=self.az[name], why=why,
                                   **self.labels(name), in_service=len(self.in_service))
        for name in decision.restore:
            if not await self.set_state(name, "ready"):
                continue
            self.in_service.add(name)
            await self.events.emit("nlb_target_restored", target=name, az=self.az[name], **self.labels(name),
                                   in_service=len(self.in_service))
        self.removed_at = [t for t in self.removed_at if now - t < 60.0]
        if decision.failed_azs != self.last.failed_azs:
            await self.events.emit("nlb_az_failover", azs=list(decision.failed_azs),
                                   before=list(self.last.failed_azs))
        if decision.fail_open != self.last.fail_open:
            await self.events.emit("nlb_fail_open", on=decision.fail_open,
                                   unhealthy=sum(1 for h in self.health.values() if not h.healthy),
                                   targets=len(self.targets))
        if decision.held_back and decision.held_back != self.last.held_back:
            await self.events.emit("nlb_velocity_held", targets=list(decision.held_back),
                                   removed_in_window=len(self.removed_at))
        self.last = decision

    async def set_state(self, name: str, state: str) -> bool:
        """HAProxy told; False (said in an event, tried again at the next interval) when it could not be."""
        try:
            await self.runtime.set_state(BACKEND, name, state)
            return True
        except (OSError, TimeoutError, HaproxyRefused) as error:
            await self.events.emit("nlb_runtime_failed", target=name, state=state,
                                   error=f"{type(error).__name__}: {error}")
            return False

    def answering(self, name: str, now: float) -> bool:
        """Networked for ANSWERING_GRACE_S or more (the checker's (8) counts the same): it was answering."""
        slot = self.truth.get(name) or {}
        since = slot.get("networked_at")
        return bool(slot.get("networked")) and since is not None and now - float(since) >= ANSWERING_GRACE_S

    async def reconcile(self) -> None:
        """HAProxy's own view against the control's (HAProxy restarted: every server back to ready): each
        server that disagrees is set again, and said."""
        try:
            held = await self.runtime.in_maintenance(BACKEND)
        except (OSError, TimeoutError, HaproxyRefused):
            return
        for name in sorted(held):
            wanted_out = name not in self.in_service
            if held[name] != wanted_out and await self.set_state(name, "maint" if wanted_out else "ready"):
                await self.events.emit("nlb_reconciled", target=name, state="maint" if wanted_out else "ready")

    def labels(self, name: str) -> dict[str, Any]:
        slot = self.truth.get(name) or {}
        return {"instance": slot.get("instance"), "networked": slot.get("networked"),
                "networked_at": slot.get("networked_at")}

    async def follow_netmgr(self, session: aiohttp.ClientSession) -> None:
        while not self.stop.is_set():
            try:
                self.truth = await read_slots(session, self.netmgr_url)
            except SLOT_READ_ERRORS:
                self.truth = {}
            await sleep_or_stop(self.stop, 1.0)

    async def figures_line(self) -> None:
        window, self.window = self.window, Counter()
        latencies, self.latencies = self.latencies, []
        out = [n for n in self.health if n not in self.in_service]
        await self.figures.emit(
            "nlb_window", mode=self.policy.name, targets=len(self.targets), in_service=len(self.in_service),
            unhealthy=sum(1 for h in self.health.values() if not h.healthy),
            out_while_networked=sum(1 for n in out if self.answering(n, time.time())),
            without_network=sum(1 for s in self.truth.values() if not s.get("networked")),
            failed_azs=list(self.last.failed_azs), fail_open=self.last.fail_open,
            checks=window["checks"], failed=window["failed"], expired_waiting=window["expired_waiting"],
            in_flight=sum(self.in_flight.values()),
            check_ms_p50=round(1000 * statistics.median(latencies)) if latencies else None,
            check_ms_max=round(1000 * max(latencies)) if latencies else None)

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=NO_CLIENT_DEADLINE) as session:
            follower = asyncio.create_task(self.follow_netmgr(session))
            next_interval = next_figures = next_reconcile = time.monotonic()
            while not self.stop.is_set():
                touch(ALIVE_FILE)
                now = time.monotonic()
                interval_due = now >= next_interval
                if interval_due:   # a late tick is not caught up with a burst of intervals
                    next_interval = max(next_interval + self.interval_s, now)
                for name in checks_due(self.policy, self.health, [n for n, c in self.in_flight.items() if c],
                                       interval_due):
                    task = asyncio.create_task(self.check(session, name, now))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                # Decided on every tick, from the results so far: a check's verdict acts within TICK_S.
                await self.apply(decide(self.policy, self.targets, self.health, self.in_service,
                                        self.removed_at, time.time()))
                if now >= next_figures:
                    next_figures = max(next_figures + 1.0, now)
                    await self.figures_line()
                if now >= next_reconcile:
                    next_reconcile = now + RECONCILE_EVERY_S
                    await self.reconcile()
                await sleep_or_stop(self.stop, TICK_S)
            follower.cancel()
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(follower, *self.tasks, return_exceptions=True)


async def start_in_service(runtime: HaproxyRuntime, targets: list[Target], stop: asyncio.Event) -> None:
    """Wait (bounded) for HAProxy's runtime API, check that its servers are the fleet's, and put every
    target in service: the control starts from a clean slate whatever a previous run left in HAProxy."""
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            servers = await runtime.in_maintenance(BACKEND)
            break
        except (OSError, TimeoutError, HaproxyRefused) as error:
            if time.monotonic() > deadline or stop.is_set():
                raise SystemExit(f"nlb: HAProxy's runtime API did not answer within {START_WAIT_S:.0f} s: {error}")
            await asyncio.sleep(1.0)
    names = sorted(t.name for t in targets)
    if sorted(servers) != names:
        raise SystemExit(f"nlb: HAProxy's backend {BACKEND} has servers {sorted(servers)}, the fleet has {names}: "
                         "SLOTS and infra/nlb/haproxy.cfg disagree")
    for name in names:
        while True:
            try:
                await runtime.set_state(BACKEND, name, "ready")
                break
            except (OSError, TimeoutError, HaproxyRefused) as error:
                if time.monotonic() > deadline or stop.is_set():
                    raise SystemExit(f"nlb: HAProxy refused to put {name} in service: {error}")
                await asyncio.sleep(1.0)


async def run() -> None:
    try:
        policy = POLICIES[env_choice("NLB_MODE", "legacy", tuple(POLICIES))]
        slots = env_int("SLOTS", 12, minimum=1, maximum=64)
        base_port = env_int("INSTANCES_BASE_PORT", 9000, minimum=1024, maximum=65000)
        instances_host = env_str("INSTANCES_HOST", "instances")
        interval_s = env_int("CHECK_INTERVAL_MS", 1000, minimum=100, maximum=60_000) / 1000
        timeout_s = env_int("CHECK_TIMEOUT_MS", 1000, minimum=10, maximum=60_000) / 1000
        workers = env_int("HC_WORKERS", 4, minimum=1, maximum=256)
        haproxy_host, haproxy_port = env_str("HAPROXY_HOST", "nlb"), env_int("HAPROXY_API_PORT", 9999, minimum=1,
                                                                            maximum=65535)
        netmgr_url = env_str("NETMGR_URL").rstrip("/")
        redis_url, service = env_str("REDIS_URL"), env_str("SERVICE_NAME", "nlb-control")
    except ConfigError as error:
        exit_on_config_error("nlb", error)
    targets = [Target(f"s{k + 1:02d}", AZS[k % len(AZS)]) for k in range(slots)]
    urls = {t.name: f"http://{instances_host}:{base_port + k + 1}" for k, t in enumerate(targets)}
    events = RedisEventSink(redis_url, service=service)
    figures = RedisEventSink(redis_url, service=service, stream=FIGURES_STREAM, echo=False)
    await events.start()
    await figures.start()
    runtime = HaproxyRuntime(haproxy_host, haproxy_port)
    control = Control(policy, targets, urls, runtime, events, figures, interval_s=interval_s, timeout_s=timeout_s,
                      workers=workers, netmgr_url=netmgr_url)
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, control.stop.set)
    await start_in_service(runtime, targets, control.stop)
    await events.emit("nlb_started", mode=policy.name, targets=len(targets), azs=list(AZS),
                      check_interval_s=interval_s, check_timeout_s=timeout_s, hc_workers=workers,
                      max_removed_share=policy.max_removed_share, fail_open_share=policy.fail_open_share)
    await control.run()
    await figures.close()
    await events.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
