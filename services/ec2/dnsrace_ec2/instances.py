"""python3 -m dnsrace_ec2.instances — the load balancer's fleet: one HTTP listener per slot.

Slot k (target s01, s02, ...) listens on INSTANCES_BASE_PORT + k + 1 and is whatever instance Network Manager
placed there (GET {NETMGR_URL}/slots, read every POLL_MS). A networked instance answers
`GET /` and `GET /health` with 200 and its name; one without networking answers nothing: the request
is held until STALL_S and then dropped, as a connection into a host whose network state never arrived
would be. Netmgr unreachable: each slot keeps the state it last had (the data plane does not depend on
the control plane being up).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from typing import Any

import aiohttp
from aiohttp import web

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error
from dnsrace.http_session import NO_CLIENT_DEADLINE
from dnsrace_ec2.steady import SLOT_READ_ERRORS, read_slots

STALL_S = 30.0


class Fleet:
    def __init__(self) -> None:
        self.slots: dict[str, dict[str, Any]] = {}
        self.read_at = 0.0

    def handler(self, target: str):  # noqa: ANN201 — an aiohttp handler
        async def serve(_: web.Request) -> web.StreamResponse:
            slot = self.slots.get(target)
            if slot is None or not slot["networked"]:
                await asyncio.sleep(STALL_S)
                raise ConnectionResetError(f"{target}: no networking")
            return web.Response(text=f"{target} {slot['instance']} az-{slot['az']}\n")
        return serve

    async def follow(self, netmgr_url: str, poll_s: float) -> None:
        async with aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE) as session:
            while True:
                try:
                    self.slots = await read_slots(session, netmgr_url)
                    self.read_at = time.time()
                except SLOT_READ_ERRORS:
                    pass   # keep the last known state
                await asyncio.sleep(poll_s)


async def run(slots: int, base_port: int, netmgr_url: str, poll_s: float) -> None:
    fleet = Fleet()
    runners = []
    for k in range(slots):
        target = f"s{k + 1:02d}"
        app = web.Application()
        app.router.add_get("/", fleet.handler(target))
        app.router.add_get("/health", fleet.handler(target))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", base_port + k + 1).start()
        runners.append(runner)
    alive = web.Application()

    async def status(_: web.Request) -> web.Response:
        return web.json_response({"slots": fleet.slots, "read_at": fleet.read_at})
    alive.router.add_get("/alive", status)
    runner = web.AppRunner(alive, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", base_port).start()
    print(json.dumps({"t": time.time(), "service": "instances", "kind": "instances_started",
                      "detail": {"slots": slots, "ports": [base_port + 1, base_port + slots]}}), flush=True)
    await fleet.follow(netmgr_url, poll_s)


def main() -> None:
    try:
        slots = env_int("SLOTS", 12, minimum=1, maximum=64)
        base_port = env_int("INSTANCES_BASE_PORT", 9000, minimum=1024, maximum=65000)   # nlb.py reads the same
        netmgr_url = env_str("NETMGR_URL").rstrip("/")
        poll_s = env_int("POLL_MS", 250, minimum=20, maximum=10_000) / 1000
    except ConfigError as error:
        exit_on_config_error("instances", error)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # nothing to finish: stop at once
    asyncio.run(run(slots, base_port, netmgr_url, poll_s))


if __name__ == "__main__":
    main()
