"""python3 -m dnsrace_backend — serve /health (switchable bad), /alive and a greeting on :8080.

    GET  /health        200 {"healthy": true, "capacity": N} or 503 {"healthy": false} — what the planner reads
    GET  /alive         200 always: the container's own liveness, independent of the switch
    POST /admin/fail    turn /health bad;  POST /admin/heal  turn it good again
    GET  /              who answered, so a client following DNS can see which backend it reached
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error

STATE = "dnsrace_backend.state"


def log(service: str, kind: str, **detail: object) -> None:
    print(json.dumps({"t": time.time(), "service": service, "kind": kind, "detail": detail}), flush=True)


def make_app(name: str, capacity: int) -> web.Application:
    app = web.Application()
    app[STATE] = {"healthy": True, "name": name, "capacity": capacity}

    async def health(request: web.Request) -> web.Response:
        state = request.app[STATE]
        body = {"name": state["name"], "healthy": state["healthy"], "capacity": state["capacity"]}
        return web.json_response(body, status=200 if state["healthy"] else 503)

    async def alive(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def switch(request: web.Request) -> web.Response:
        healthy = request.match_info["action"] == "heal"
        request.app[STATE]["healthy"] = healthy
        log(name, "backend_healed" if healthy else "backend_failed")
        return web.json_response({"name": name, "healthy": healthy})

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"backend": name, "healthy": request.app[STATE]["healthy"]})

    app.router.add_get("/health", health)
    app.router.add_get("/alive", alive)
    app.router.add_post("/admin/{action:fail|heal}", switch)
    app.router.add_get("/", hello)
    return app


def main() -> None:
    try:
        name = env_str("SERVICE_NAME", pattern=r"[a-z0-9-]{1,40}")
        capacity = env_int("BACKEND_CAPACITY", 10, minimum=0, maximum=255)
        port = env_int("HTTP_PORT", 8080, minimum=1, maximum=65535)
    except ConfigError as error:
        exit_on_config_error("backend", error)
    log(name, "backend_started", capacity=capacity, port=port)
    web.run_app(make_app(name, capacity), host="0.0.0.0", port=port, print=lambda *_: None, access_log=None)


if __name__ == "__main__":
    main()
