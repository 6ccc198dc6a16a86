"""python3 -m dnsrace_ec2.dwfm — the lease manager (EC2's DropletWorkflow Manager), DWFM_MODE=legacy|safe.

Keeps a lease per droplet in the lab's DynamoDB (table `droplet-leases`), renewed every RENEW_MS by
WORKERS workers taking attempts from one queue; an attempt is the droplet's state check plus a
conditional UpdateItem (lease_store.py), bounded by TIMEOUT_MS; a lease not renewed within TTL_MS
lapses, and a droplet without a live lease cannot take a launch. The books and every decision are
lease_book.py's, the design is lease_policy.py's row; this module is the loop and the I/O.

    POST /launch   200 {"droplet": i} | 503 InsufficientInstanceCapacity | 429 RequestLimitExceeded (safe,
                   while its admission is refusing work)
    GET  /status   the figures of the last second, and the parameters
    GET  /alive    200 (compose's healthcheck)

Events (the decision stream): dwfm_started (with every parameter), dwfm_prepared (the leases it found),
dwfm_throttle (the operator's throttle turned on or off: DWFM_THROTTLE in Redis, read at start and every
second), dwfm_netmgr_unreachable / dwfm_netmgr_reachable, dwfm_stopped.

With NETMGR_URL set (issue 24), the droplets leased again after their lease lapsed are posted to Network
Manager once a second (POST /propagations): their network state must be pushed again, the backlog the
recovery leaves behind it. Figures (dnsrace:figures, once a second): `lease_window`, lease_book.take_window's line.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from dnsrace.config import ConfigError, env_choice, env_int, env_str, exit_on_config_error
from dnsrace.deadline import sleep_or_stop, stray_cancellation, within
from dnsrace.events import EventSink, RedisEventSink
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace.keys import DWFM_THROTTLE, FIGURES_STREAM
from dnsrace_ec2.lease_book import LeaseBook, LeaseParams
from dnsrace_ec2.lease_policy import POLICIES, LeasePolicy, throttled
from dnsrace_ec2.lease_store import LeaseStore

TICK_S = 0.1
FIGURES_EVERY_S = 1.0
IDLE_POLL_S = 0.02
PREPARE_TRIES = 3
REDIS_TIMEOUT_S = 2.0


def parameters() -> tuple[LeasePolicy, LeaseParams, dict[str, Any]]:
    policy = POLICIES[env_choice("DWFM_MODE", "legacy", tuple(POLICIES))]
    params = LeaseParams(
        droplets=env_int("DROPLETS", 1000, minimum=1, maximum=100_000),
        workers=env_int("WORKERS", 8, minimum=1, maximum=256),
        renew_s=env_int("RENEW_MS", 30_000, minimum=100, maximum=3_600_000) / 1000,
        ttl_s=env_int("TTL_MS", 45_000, minimum=100, maximum=3_600_000) / 1000,
        timeout_s=env_int("TIMEOUT_MS", 2_000, minimum=50, maximum=600_000) / 1000,
        expected_op_s=env_int("EXPECTED_OP_MS", 75, minimum=1, maximum=60_000) / 1000,
        retry_refill_per_s=env_int("RETRY_REFILL_PER_S", 5, minimum=0, maximum=100_000))
    edges = {"endpoint_url": env_str("DYNAMODB_ENDPOINT_URL"), "droplets_url": env_str("DROPLETS_URL"),
             "redis_url": env_str("REDIS_URL"), "service": env_str("SERVICE_NAME", "dwfm"),
             "port": env_int("HTTP_PORT", 8090, minimum=1, maximum=65535)}
    return policy, params, edges


class Manager:
    def __init__(self, policy: LeasePolicy, params: LeaseParams, store: LeaseStore, events: EventSink,
                 figures: EventSink, redis: aioredis.Redis | None = None) -> None:
        self.design, self.policy, self.params, self.store = policy, policy, params, store
        self.redis = redis
        self.events, self.figures = events, figures
        self.pool = ThreadPoolExecutor(params.workers + 1, thread_name_prefix="lease")
        self.versions: dict[int, int] = {}
        self.book: LeaseBook | None = None
        self.last_figures: dict[str, Any] = {}
        self.stop = asyncio.Event()
        # Droplets leased again after their lease lapsed, posted to Network Manager once a second (issue 24).
        self.relet: list[int] = []
        self.lapsed_at_start: set[int] = set()   # lapsed in the table when the books were made (a restart)
        self.netmgr_url = ""
        self.posting: asyncio.Task[None] | None = None
        self.netmgr_down = False

    async def prepare(self) -> None:
        """The leases already in the table (a restart starts from them), then the books. DynamoDB may
        be unreachable (its name answers empty): a few tries, then the books start with no knowledge."""
        loop = asyncio.get_running_loop()
        found: dict[int, tuple[float, int]] = {}
        error = ""
        for attempt in range(PREPARE_TRIES):
            try:
                found = await loop.run_in_executor(self.pool, self.store.leases)
                error = ""
                break
            except Exception as failure:  # noqa: BLE001 — any failure: said in the event, books start empty
                error = f"{type(failure).__name__}: {failure}"
                await sleep_or_stop(self.stop, 1.0 + attempt)
        await self.follow_throttle()
        now = time.time()
        self.versions = {d: version for d, (_expiry, version) in found.items()}
        self.lapsed_at_start = {d for d, (expiry, _v) in found.items() if expiry <= now}
        self.book = LeaseBook(self.params, self.policy, now, {d: e for d, (e, _v) in found.items()})
        await self.events.emit("dwfm_prepared", leases_found=len(found), live=self.book.leased(now),
                               lapsed=sum(1 for e, _v in found.values() if e <= now), error=error or None)

    async def follow_throttle(self) -> None:
        """The operator's throttle (DWFM_THROTTLE in Redis): on while the key exists. Unreadable (Redis
        down): the manager keeps what it had."""
        if self.redis is None:
            return
        try:
            on = bool(await within(REDIS_TIMEOUT_S, self.redis.exists(DWFM_THROTTLE)))
        except (aioredis.RedisError, OSError, TimeoutError):
            return
        wanted = throttled(self.design) if on else self.design
        if wanted != self.policy:
            self.policy = wanted
            if self.book is not None:
                self.book.policy = wanted
            await self.events.emit("dwfm_throttle", on=on, policy=wanted.name,
                                   admission_limit=self.book.limit if self.book is not None else None)

    async def worker(self) -> None:
        assert self.book is not None
        loop = asyncio.get_running_loop()
        while not self.stop.is_set():
            try:
                attempt = self.book.next_attempt(time.time())
                if attempt is None:
                    await sleep_or_stop(self.stop, IDLE_POLL_S)
                    continue
                result = await loop.run_in_executor(self.pool, self.store.renew, attempt.droplet,
                                                    self.versions.get(attempt.droplet), attempt.deadline)
                if result.version is not None:
                    self.versions[attempt.droplet] = result.version
                now = time.time()
                had = self.book.expiry[attempt.droplet]
                lapsed = 0.0 < had <= now or attempt.droplet in self.lapsed_at_start
                if self.book.finished(attempt, now, result.outcome, op_s=result.op_s, expiry=result.expiry) and lapsed:
                    self.relet.append(attempt.droplet)   # leased again after it lapsed: its network state is owed
                    self.lapsed_at_start.discard(attempt.droplet)
            except asyncio.CancelledError:
                if self.stop.is_set():
                    raise
                stray = stray_cancellation("a lease worker")
                await self.events.emit("dwfm_worker_failed", error=f"{type(stray).__name__}: {stray}")
            except Exception as error:  # noqa: BLE001 — a worker never dies: said, and the next attempt goes on
                await self.events.emit("dwfm_worker_failed", error=f"{type(error).__name__}: {error}")
                await sleep_or_stop(self.stop, 0.5)

    async def ticker(self) -> None:
        assert self.book is not None
        next_figures = time.monotonic() + FIGURES_EVERY_S
        while not self.stop.is_set():
            self.book.tick(time.time())
            if time.monotonic() >= next_figures:
                next_figures += FIGURES_EVERY_S
                self.last_figures = {"mode": self.policy.name, **self.book.take_window(time.time(), FIGURES_EVERY_S)}
                await self.figures.emit("lease_window", **self.last_figures)
                await self.follow_throttle()
                self.post_relet()
            await sleep_or_stop(self.stop, TICK_S)

    def post_relet(self) -> None:
        """Network Manager is told which droplets were leased again (POST /propagations), off the ticker,
        one post at a time; a failed post keeps them for the next second."""
        if not self.netmgr_url or not self.relet or (self.posting is not None and not self.posting.done()):
            return
        batch, self.relet = self.relet, []

        async def post() -> None:
            try:
                async def call() -> None:
                    async with aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE) as session, \
                            session.post(f"{self.netmgr_url}/propagations", json={"droplets": batch}) as response:
                        response.raise_for_status()
                await within(REDIS_TIMEOUT_S, call())
                if self.netmgr_down:
                    self.netmgr_down = False
                    await self.events.emit("dwfm_netmgr_reachable", droplets=len(batch))
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                self.relet[:0] = batch[: self.params.droplets]
                if not self.netmgr_down:   # said once per spell, not every second
                    self.netmgr_down = True
                    await self.events.emit("dwfm_netmgr_unreachable", droplets=len(batch),
                                           error=f"{type(error).__name__}: {error}")
        self.posting = asyncio.create_task(post())

    # --- HTTP ----------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/launch", self.launch)
        app.router.add_get("/status", self.status)
        app.router.add_get("/alive", self.alive)
        return app

    async def launch(self, _: web.Request) -> web.Response:
        if self.book is None:
            return web.json_response({"error": "InsufficientInstanceCapacity", "why": "starting"}, status=503)
        if self.book.throttling():
            return web.json_response({"error": "RequestLimitExceeded", "queue": len(self.book.queue)}, status=429)
        droplet = self.book.live_droplet(time.time())
        if droplet is None:
            return web.json_response({"error": "InsufficientInstanceCapacity", "why": "no droplet has a live lease"},
                                     status=503)
        return web.json_response({"droplet": droplet})

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response({"mode": self.policy.name, "parameters": asdict(self.params),
                                  "figures": self.last_figures})

    async def alive(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True, "ready": self.book is not None})


async def run() -> None:
    try:
        policy, params, edges = parameters()
    except (ConfigError, ValueError) as error:
        exit_on_config_error("dwfm", ConfigError(str(error)))
    events = RedisEventSink(edges["redis_url"], service=edges["service"])
    figures = RedisEventSink(edges["redis_url"], service=edges["service"], stream=FIGURES_STREAM, echo=False)
    await events.start()
    await figures.start()
    store = LeaseStore(endpoint_url=edges["endpoint_url"], droplets_url=edges["droplets_url"], holder=edges["service"],
                       timeout_s=params.timeout_s, ttl_s=params.ttl_s,
                       retry_mode="legacy" if policy.name == "legacy" else "standard", workers=params.workers)
    redis = aioredis.from_url(edges["redis_url"], socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
    manager = Manager(policy, params, store, events, figures, redis)
    manager.netmgr_url = os.environ.get("NETMGR_URL", "").rstrip("/")   # unset: nobody is told (act 1 alone)
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, manager.stop.set)
    runner = web.AppRunner(manager.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", edges["port"]).start()
    await events.emit("dwfm_started", mode=policy.name, **asdict(params),
                      endpoint_url=edges["endpoint_url"])
    await manager.prepare()
    tasks = [asyncio.create_task(manager.worker(), name=f"worker-{k}") for k in range(params.workers)]
    tasks.append(asyncio.create_task(manager.ticker(), name="ticker"))
    await manager.stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await events.emit("dwfm_stopped")
    await runner.cleanup()
    manager.pool.shutdown(wait=False, cancel_futures=True)
    await figures.close()
    await events.close()
    await redis.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
