"""python3 -m dnsrace_ec2.netmgr — Network Manager: network-state propagation at a finite rate (NETMGR_MODE).

One FIFO queue (netmgr_book.py), worked at PROPAGATE_PER_S items a second: droplets whose leases the
lease manager re-established after they lapsed (it posts them), and launched instances, which have no
connectivity until theirs is worked. The load balancer's fleet (SLOTS instances over AZS) is kept here:
the instances service serves it, the load balancer's control reads it only to label its decisions.

    POST /propagations {"droplets": [3, 17, ...]}  202 {"queued": n}   the lease manager's re-established leases
    POST /launches                                 201 {"instance", "slot"} | 429 {"error": "wait"} (safe, queue full)
    POST /slots/{target}/replace                   201 {"instance", "slot"}: the slot's instance replaced now
                                                   (an operator's or the fleet's replacement; never refused)
    GET  /slots                                    every slot: target, az, instance, networked, since, networked_at, pending
    GET  /status | /alive

Events: netmgr_started; instance_placed (a slot's new instance placed behind others in the queue: it
runs without networking until they are worked) and then its instance_networked (how long it waited).
A slot's instance placed into an empty queue is networked within one item's time: it is counted in the
figures, not said (at rest that is every replacement, and the history stays sentences). Figures
(dnsrace:figures, once a second): `netmgr_window` (queue, head age, worked, launches started and refused,
slots without networking).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

from aiohttp import web

from dnsrace.config import ConfigError, env_choice, env_int, env_str, exit_on_config_error
from dnsrace.deadline import sleep_or_stop
from dnsrace.events import EventSink, RedisEventSink
from dnsrace.keys import FIGURES_STREAM
from dnsrace_ec2.netmgr_book import POLICIES, Fleet, NetmgrPolicy, Slot, admits_launch

AZS = ("a", "b", "c")
MAX_DROPLETS_PER_POST = 100_000


class Netmgr:
    def __init__(self, policy: NetmgrPolicy, fleet: Fleet, rate_per_s: int, queue_limit: int,
                 events: EventSink, figures: EventSink) -> None:
        self.policy, self.fleet, self.rate, self.limit = policy, fleet, rate_per_s, queue_limit
        self.events, self.figures = events, figures
        self.stop = asyncio.Event()
        self.announced: set[str] = set()     # instances whose placement was said: their networking is said too
        self.window = {"worked": 0, "droplets_queued": 0, "launches": 0, "refused": 0}

    async def worker(self) -> None:
        """Works the queue at `rate` items a second, paced by the clock (no catch-up burst after idling)."""
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now < next_at:
                await sleep_or_stop(self.stop, next_at - now)
                continue
            done = self.fleet.work_one(time.time())
            # Paced by the clock: a late wake-up is caught up (so the rate holds), at most 1 s of it.
            next_at = max(next_at + period, now - 1.0) if done else now + period
            if done is None:
                continue
            item, slot = done
            self.window["worked"] += 1
            if slot is not None and item.name in self.announced:
                self.announced.discard(item.name)
                await self.events.emit("instance_networked", instance=item.name, target=slot.target, az=slot.az,
                                       waited_s=round(time.time() - item.enqueued, 3))

    async def ticker(self) -> None:
        while not self.stop.is_set():
            await sleep_or_stop(self.stop, 1.0)
            now = time.time()
            window, self.window = self.window, dict.fromkeys(self.window, 0)
            await self.figures.emit("netmgr_window", mode=self.policy.name, queue=len(self.fleet.queue),
                                    head_age_s=round(self.fleet.head_age(now), 3), limit=self.limit,
                                    without_network=sum(1 for s in self.fleet.slots if not s.networked),
                                    slots=len(self.fleet.slots), rate_per_s=self.rate, worked=window["worked"],
                                    droplets_queued=window["droplets_queued"], launches=window["launches"],
                                    refused=window["refused"])

    # --- HTTP ----------------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/propagations", self.propagations)
        app.router.add_post("/launches", self.launches)
        app.router.add_get("/slots", self.slots)
        app.router.add_post("/slots/{target}/replace", self.replace)
        app.router.add_get("/status", self.status)
        app.router.add_get("/alive", self.alive)
        return app

    async def propagations(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"null")
            droplets = body["droplets"]
            if (not isinstance(droplets, list) or len(droplets) > MAX_DROPLETS_PER_POST
                    or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in droplets)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "the body must be {\"droplets\": [n, ...]}: at most "
                                      f"{MAX_DROPLETS_PER_POST} droplet numbers, each >= 0"}, status=400)
        self.fleet.enqueue_droplets(droplets, time.time())
        self.window["droplets_queued"] += len(droplets)
        return web.json_response({"queued": len(droplets), "queue": len(self.fleet.queue)}, status=202)

    async def launches(self, _: web.Request) -> web.Response:
        if not admits_launch(self.policy, len(self.fleet.queue), self.limit):
            self.window["refused"] += 1
            return web.json_response({"error": "wait", "why": "network-state propagation is behind",
                                      "queue": len(self.fleet.queue), "limit": self.limit}, status=429)
        now = time.time()
        instance, slot = self.fleet.launch(now)
        self.window["launches"] += 1
        if slot is not None and slot.instance == instance:     # (make before break: it takes the slot later)
            await self.placed(instance, slot, now, "launch")
        return web.json_response({"instance": instance, "slot": slot.target if slot else None}, status=201)

    async def replace(self, request: web.Request) -> web.Response:
        now = time.time()
        try:
            instance, slot = self.fleet.replace(request.match_info["target"], now)
        except KeyError:
            return web.json_response({"error": f"no slot {request.match_info['target']!r}",
                                      "slots": [s.target for s in self.fleet.slots]}, status=404)
        await self.placed(instance, slot, now, "replace", always=True)
        return web.json_response({"instance": instance, "slot": slot.target}, status=201)

    async def placed(self, instance: str, slot: Slot, now: float, why: str, always: bool = False) -> None:
        if always or len(self.fleet.queue) > 1:
            self.announced.add(instance)
            await self.events.emit("instance_placed", instance=instance, target=slot.target, az=slot.az, why=why,
                                   queue_ahead=len(self.fleet.queue) - 1,
                                   head_age_s=round(self.fleet.head_age(now), 3))

    async def slots(self, _: web.Request) -> web.Response:
        return web.json_response([{"target": s.target, "az": s.az, "instance": s.instance, "networked": s.networked,
                                   "since": s.since, "networked_at": s.networked_at,
                                   "pending": s.pending} for s in self.fleet.slots])

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response({"mode": self.policy.name, "queue": len(self.fleet.queue), "limit": self.limit,
                                  "rate_per_s": self.rate, "head_age_s": self.fleet.head_age(time.time())})

    async def alive(self, _: web.Request) -> web.Response:
        return web.json_response({"ok": True})


def parameters() -> dict[str, Any]:
    return {"policy": POLICIES[env_choice("NETMGR_MODE", "legacy", tuple(POLICIES))],
            "rate": env_int("PROPAGATE_PER_S", 20, minimum=1, maximum=10_000),
            "limit": env_int("QUEUE_LIMIT", 20, minimum=1, maximum=1_000_000),
            "slots": env_int("SLOTS", 12, minimum=1, maximum=64),
            "lifetime_s": env_int("LIFETIME_MS", 120_000, minimum=1_000, maximum=3_600_000) / 1000,
            "redis_url": env_str("REDIS_URL"), "service": env_str("SERVICE_NAME", "netmgr"),
            "port": env_int("HTTP_PORT", 8092, minimum=1, maximum=65535)}


async def run() -> None:
    try:
        p = parameters()
    except ConfigError as error:
        exit_on_config_error("netmgr", error)
    events = RedisEventSink(p["redis_url"], service=p["service"])
    figures = RedisEventSink(p["redis_url"], service=p["service"], stream=FIGURES_STREAM, echo=False)
    await events.start()
    await figures.start()
    fleet = Fleet.start(p["slots"], AZS, p["lifetime_s"], time.time(), make_before_break=p["policy"].make_before_break)
    netmgr = Netmgr(p["policy"], fleet, p["rate"], p["limit"], events, figures)
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, netmgr.stop.set)
    runner = web.AppRunner(netmgr.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", p["port"]).start()
    await events.emit("netmgr_started", mode=p["policy"].name, make_before_break=p["policy"].make_before_break, propagate_per_s=p["rate"], queue_limit=p["limit"],
                      slots=p["slots"], azs=list(AZS), lifetime_s=p["lifetime_s"])
    tasks = [asyncio.create_task(netmgr.worker()), asyncio.create_task(netmgr.ticker())]
    await netmgr.stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runner.cleanup()
    await figures.close()
    await events.close()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
