"""The console over HTTP: the page, its JSON API and its stream of updates (server-sent events).

    GET  /                      the page (static/index.html): plain HTML, CSS and JS served from here alone
    GET  /static/{file}         console.js, console.css, favicon.svg
    GET  /api/status            now, the one root alert (or the last one, resolved), the enactors
    GET  /api/timeline?service=&plan=&limit=   the events as sentences, the alert's causal chain marked
    GET  /api/plans?limit=      the plans: created, applied by whom and when, deleted by whom and when
    GET  /api/stream            server-sent events: `status` whenever the status changes
    POST /api/repair            {} or {"expect_target": "plan-000160"}: endpoint -> the newest existing plan,
                                rollback cleared (bearer token and Origin checked by http_api's guard)

Every query and body is validated (400 naming the field); reads change nothing. The status is computed
at most every STATUS_CACHE_S, whoever asks, and only while someone asks: with no page open and no
client calling, the console costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from dnsrace.deadline import sleep_or_stop, within
from dnsrace.plans import MalformedPlan, generation_of_plan_id, generation_of_record_name
from dnsrace.errors import Busy, NotFound
from dnsrace.records import InvalidInput, quoted

from ..engine import Engine
from ..event_sink import EventSink, log
from ..http_api import read_json
from .alert import Alerting
from .now import Answer, Now
from .panels import plan_rows, timeline_rows
from .repair import describe, parse_request, repair_batch
from .status import History, assemble

__all__ = ["Console", "add_console"]

STATUS_CACHE_S = 0.5
STREAM_TICK_S = 1.0             # how often a stream looks for a new status
STREAM_KEEPALIVE_S = 15.0
STREAM_LENGTH_S = 3600.0        # a stream ends after an hour; the browser reconnects by itself
STREAM_CLIENTS_MAX = 16
EMIT_TIMEOUT_S = 1.0
TIMELINE_LIMIT_DEFAULT, TIMELINE_LIMIT_MAX = 300, 2000
PLANS_LIMIT_DEFAULT, PLANS_LIMIT_MAX = 40, 500
STATIC_DIR = Path(__file__).with_name("static")
STATIC_TYPES = {"console.js": "application/javascript", "console.css": "text/css", "favicon.svg": "image/svg+xml"}
# The page runs only what it was served with: no inline script, nothing from another origin, no frames.
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SERVICE = re.compile(r"[a-z0-9-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_CONSOLE = "console"


class Console:
    """The console's state and its edges, injected (unit tests give it fakes): the history of events,
    CoreDNS's two listeners, the planner's plans, and dns-admin's own engine and event sink."""

    def __init__(self, *, engine: Engine, events: EventSink, endpoint: str, negative_ttl_s: float,
                 history: Callable[[], Awaitable[History]], ask: Callable[[str], Awaitable[Answer]],
                 plans: Callable[[Iterable[int]], Awaitable[tuple[int | None, dict[int, float]]]],
                 clock: Callable[[], float] = time.time,
                 figures: Callable[[], Awaitable[dict[str, Any]]] | None = None) -> None:
        self.engine = engine
        self._events = events
        self.endpoint = endpoint
        self._negative_ttl_s = negative_ttl_s
        self._history = history
        self._ask = ask
        self._plans = plans
        self._clock = clock
        self._figures = figures
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[str, Any], Alerting, History, Now] | None = None
        self.stopping = asyncio.Event()
        self.streams = 0

    async def observe(self) -> tuple[dict[str, Any], Alerting, History, Now]:
        """The status, computed at most every STATUS_CACHE_S (concurrent readers share one)."""
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < STATUS_CACHE_S:
                return self._cached[1:]
            history, now = await asyncio.gather(self._history(), self._now())
            figures = await self._figures() if self._figures is not None else None
            status, alerting = assemble(history, now, negative_ttl_s=self._negative_ttl_s, figures=figures)
            self._cached = (time.monotonic(), status, alerting, history, now)
            return status, alerting, history, now

    async def _now(self) -> Now:
        record_sets = self.engine.record_sets()     # dns-admin's own zone, in memory: no I/O
        serial = self.engine.serial
        aliases = {rs.name: rs.target for rs in record_sets if rs.type == "ALIAS"}
        a_names = frozenset(rs.name for rs in record_sets if rs.type == "A")
        target, rollback = aliases.get(self.endpoint), aliases.get(f"rollback.{self.endpoint}")
        wanted = [g for g in (_generation(target, self.endpoint), _generation(rollback, self.endpoint)) if g]
        resolver, authoritative, (newest, created) = await asyncio.gather(
            self._ask("resolver"), self._ask("authoritative"), self._plans(wanted))
        return Now(self._clock(), self.endpoint, target, rollback, a_names, serial, resolver, authoritative, newest,
                   created)

    async def repair(self, expect_target: str | None) -> dict[str, Any]:
        repair = repair_batch(self.engine.record_sets(), self.endpoint, expect_target=expect_target)
        accepted = await self.engine.submit(repair.batch.to_json())
        rows = await self.engine.audit(20)
        audit = next((row.to_json() for row in reversed(rows) if row.change_id == accepted.change_id), None)
        result = describe(repair, accepted.change_id, accepted.serial, audit)
        try:
            await within(EMIT_TIMEOUT_S, self._events.emit(
                "operator_repair", plan=repair.plan, token=None, change_id=accepted.change_id,
                before=result["before"], rollback_cleared=result["rollback_cleared"], via="console"))
        except Exception as error:     # the repair stands; its narration is lost, and said so
            log("event_emit_failed", event="operator_repair", error=repr(error))
        self._cached = None
        return result


def _generation(target: str | None, endpoint: str) -> int | None:
    return generation_of_record_name(target, endpoint) if target else None


def add_console(app: web.Application, console: Console) -> None:
    app[_CONSOLE] = console
    page = (STATIC_DIR / "index.html").read_bytes()
    files = {name: (STATIC_DIR / name).read_bytes() for name in STATIC_TYPES}

    async def index(_: web.Request) -> web.Response:
        return web.Response(body=page, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": PAGE_POLICY})

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in files:
            raise NotFound(f"no such file: {quoted(name)}")
        return web.Response(body=files[name], content_type=STATIC_TYPES[name])

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/timeline", _timeline)
    app.router.add_get("/api/plans", _plans)
    app.router.add_get("/api/stream", _stream)
    app.router.add_post("/api/repair", _repair)

    async def stop_streams(_: web.Application) -> None:
        console.stopping.set()     # shutdown: every open stream ends now, not at the server's timeout
    app.on_shutdown.append(stop_streams)


def _console(request: web.Request) -> Console:
    console: Console = request.app[_CONSOLE]
    return console


def _query(request: web.Request, known: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.query) - set(known))
    if unknown:
        raise InvalidInput(f"query: unknown parameter {quoted(unknown[0])} (known: {', '.join(known)})")
    return {key: request.query[key] for key in known if key in request.query and request.query[key] != ""}


def _limit(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if _DIGITS.fullmatch(raw) is None or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"limit: expected an integer 1..{maximum}, got {quoted(raw)}")
    return int(raw)


async def _status(request: web.Request) -> web.Response:
    _query(request, ())
    status, *_ = await _console(request).observe()
    return web.json_response(status)


async def _timeline(request: web.Request) -> web.Response:
    query = _query(request, ("service", "plan", "limit"))
    service, plan = query.get("service"), query.get("plan")
    if service is not None and _SERVICE.fullmatch(service) is None:
        raise InvalidInput(f"service: expected a service name like enactor-a, got {quoted(service)}")
    if plan is not None:
        try:
            generation_of_plan_id(plan)
        except MalformedPlan:
            raise InvalidInput(f"plan: expected a plan id like plan-000145, got {quoted(plan)}") from None
    limit = _limit(query.get("limit"), TIMELINE_LIMIT_DEFAULT, TIMELINE_LIMIT_MAX)
    _, alerting, history, _ = await _console(request).observe()
    chain = alerting.alert.chain_seqs if alerting.alert else []
    rows = timeline_rows(history.events, service=service, plan=plan, limit=limit, chain=chain)
    return web.json_response({**rows, "chain": chain, "filter": {"service": service, "plan": plan, "limit": limit}})


async def _plans(request: web.Request) -> web.Response:
    limit = _limit(_query(request, ("limit",)).get("limit"), PLANS_LIMIT_DEFAULT, PLANS_LIMIT_MAX)
    _, _, history, now = await _console(request).observe()
    return web.json_response({"plans": plan_rows(history.events, now, limit=limit)})


async def _repair(request: web.Request) -> web.Response:
    body = await read_json(request) if request.can_read_body else {}
    expect_target = parse_request(body)
    result = await _console(request).repair(expect_target)
    log("operator_repair", change_id=result["change_id"], target=result["target"], remote=request.remote)
    return web.json_response(result)


async def _stream(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    _query(request, ())
    if console.streams >= STREAM_CLIENTS_MAX:
        raise Busy(f"{STREAM_CLIENTS_MAX} pages are already following the console; close one")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Content-Type-Options": "nosniff", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    console.streams += 1
    try:
        await response.write(b"retry: 2000\n\n")
        sent, last_write = None, time.monotonic()
        ends = time.monotonic() + STREAM_LENGTH_S
        while time.monotonic() < ends and not console.stopping.is_set():
            status, *_ = await console.observe()
            if status["version"] != sent:
                await response.write(b"event: status\ndata: " + json.dumps(status).encode() + b"\n\n")
                sent, last_write = status["version"], time.monotonic()
            elif time.monotonic() - last_write > STREAM_KEEPALIVE_S:
                await response.write(b": keepalive\n\n")
                last_write = time.monotonic()
            await sleep_or_stop(console.stopping, STREAM_TICK_S)
    except (ConnectionError, RuntimeError):
        pass    # the page went away
    finally:
        console.streams -= 1
    return response
