"""python3 -m dnsrace_backend — serve /health (switchable bad), /alive and a greeting on :8080.

    GET  /health        200 {"healthy": true, "capacity": N} or 503 {"healthy": false} — what the planner reads
    GET  /alive         200 always: the container's own liveness, independent of the switch
    POST /admin/fail    turn /health bad;  POST /admin/heal  turn it good again
    GET  /              who answered, so a client following DNS can see which backend it reached
    POST /              DynamoDB's JSON API: the backends are DynamoDB's front ends, so the endpoint's
                        addresses speak DynamoDB. Each request is forwarded to the storage node
                        (DYNAMODB_UPSTREAM, through Toxiproxy) and its answer returned as it came;
                        `x-dnsrace-frontend` names the backend that carried it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from dnsrace.config import ConfigError, env_int, env_str, exit_on_config_error

STATE = "dnsrace_backend.state"
UPSTREAM = "dnsrace_backend.upstream"
# Hop-by-hop headers stay on their hop; everything else (X-Amz-Target, the signature) goes through.
HOP_HEADERS = {"host", "content-length", "connection", "keep-alive", "transfer-encoding"}
# The storage node answers in milliseconds; this bounds a request stuck behind a fault (a held proxy).
UPSTREAM_TIMEOUT_S = 30.0


def log(service: str, kind: str, **detail: object) -> None:
    print(json.dumps({"t": time.time(), "service": service, "kind": kind, "detail": detail}), flush=True)


def make_app(name: str, capacity: int, upstream: str = "") -> web.Application:
    app = web.Application()
    app[STATE] = {"healthy": True, "name": name, "capacity": capacity}
    app[UPSTREAM] = upstream.rstrip("/")

    async def session_context(app: web.Application) -> AsyncIterator[None]:
        app["session"] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S))
        yield
        await app["session"].close()

    async def dynamodb(request: web.Request) -> web.Response:
        if not request.app[UPSTREAM]:
            return web.json_response({"__type": "ServiceUnavailable", "message": "no DYNAMODB_UPSTREAM"}, status=503)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        body = await request.read()
        try:
            async with request.app["session"].post(request.app[UPSTREAM] + "/", data=body, headers=headers) as reply:
                payload = await reply.read()
                kept = {k: v for k, v in reply.headers.items() if k.lower() not in HOP_HEADERS}
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            # DynamoDB's own shape for a server-side failure, so the SDK treats it as one (and retries).
            return web.json_response({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                      "message": f"front end {name}: storage unreachable: {type(error).__name__}"},
                                     status=500, headers={"x-dnsrace-frontend": name})
        kept["x-dnsrace-frontend"] = name
        return web.Response(status=reply.status, body=payload, headers=kept)

    app.cleanup_ctx.append(session_context)

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
    app.router.add_post("/", dynamodb)
    return app


def main() -> None:
    try:
        name = env_str("SERVICE_NAME", pattern=r"[a-z0-9-]{1,40}")
        capacity = env_int("BACKEND_CAPACITY", 10, minimum=0, maximum=255)
        port = env_int("HTTP_PORT", 8080, minimum=1, maximum=65535)
        upstream = env_str("DYNAMODB_UPSTREAM", "")
    except ConfigError as error:
        exit_on_config_error("backend", error)
    log(name, "backend_started", capacity=capacity, port=port, dynamodb_upstream=upstream or None)
    web.run_app(make_app(name, capacity, upstream), host="0.0.0.0", port=port, print=lambda *_: None, access_log=None)


if __name__ == "__main__":
    main()
