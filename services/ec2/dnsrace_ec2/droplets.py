"""python3 -m dnsrace_ec2.droplets — N droplets (physical hosts), each answering its own state check.

    GET /droplets/{i}   200 {"droplet": i, "state": "running"} for 0 <= i < DROPLETS, else 404
    GET /alive          200 (compose's healthcheck)

One process serves the whole fleet: the lease manager's state check is a real HTTP round trip per
droplet, which is all a lease operation needs of the host.
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from dnsrace.config import ConfigError, env_int, exit_on_config_error


def make_app(droplets: int) -> web.Application:
    app = web.Application()

    async def state(request: web.Request) -> web.Response:
        try:
            droplet = int(request.match_info["droplet"])
        except ValueError:
            return web.json_response({"error": "a droplet is a number"}, status=400)
        if not 0 <= droplet < droplets:
            return web.json_response({"error": f"no droplet {droplet} (0 to {droplets - 1})"}, status=404)
        return web.json_response({"droplet": droplet, "state": "running"})

    async def alive(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "droplets": droplets})

    app.router.add_get("/droplets/{droplet}", state)
    app.router.add_get("/alive", alive)
    return app


def main() -> None:
    try:
        droplets = env_int("DROPLETS", 1000, minimum=1, maximum=100_000)
        port = env_int("HTTP_PORT", 8091, minimum=1, maximum=65535)
    except ConfigError as error:
        exit_on_config_error("droplets", error)
    print(json.dumps({"t": time.time(), "service": "droplets", "kind": "droplets_started",
                      "detail": {"droplets": droplets, "port": port}}), flush=True)
    web.run_app(make_app(droplets), host="0.0.0.0", port=port, print=lambda *_: None, access_log=None)


if __name__ == "__main__":
    main()
