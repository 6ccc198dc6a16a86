"""The JSON HTTP API of dns-admin (aiohttp).

Every answer is JSON, errors included: `{"error": code, "message": ..., "change_index": ...}` with the
error class's status, so a client can always rebuild the error with `dnsrace.records.error_from_json`.
Route errors (404, 405) and an oversize body (413) use the same shape; an unexpected failure is a 500
`InternalError`, which a client must treat as "may have happened".

    GET  /healthz                          {"ok": true, "zone", "serial"}
    GET  /v1/record-sets                   {"zone", "serial", "record_sets": [...]} sorted by (name, type)
    GET  /v1/record-sets/{name}/{type}     one record set, or 404 RecordSetNotFound
    POST /v1/changes                       ChangeBatch JSON -> {"change_id", "serial", "status": "INSYNC"}
    GET  /v1/audit?limit=50                {"entries": [...]} newest last, limit 1..1000

Every request that is not a read (GET, HEAD) must come with dns-admin's bearer token and from no other
site (auth.py): 401 without a token, 403 with a wrong one or another site's Origin, checked before the
body is read. A refused POST /v1/changes is still a batch request: it leaves its audit row and its
`batch_rejected` event like any other. The responder's console (console/) adds its page and /api/ here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from dnsrace.errors import HttpError, InternalError, MethodNotAllowed, NotFound
from dnsrace.records import DnsAdminError, InvalidInput, quoted

from .auth import AuthRefused, Unauthorized, check_bearer, check_origin
from .engine import Engine
from .event_sink import log

BODY_SIZE_MAX = 256 * 1024
AUDIT_LIMIT_DEFAULT = 50
INTEGER_MIN, INTEGER_MAX = -(2**63), 2**63 - 1  # what SQLite (and most JSON readers) can hold exactly
_ENGINE = "engine"
_TOKEN = "admin_token"
READ_METHODS = ("GET", "HEAD")
_DIGITS = re.compile(r"[0-9]{1,9}")
_ROUTE_ERROR_CODES = {404: NotFound.__name__, 405: MethodNotAllowed.__name__, 413: InvalidInput.__name__}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(engine: Engine, *, token: str) -> web.Application:
    app = web.Application(client_max_size=BODY_SIZE_MAX, middlewares=[_hardened, _errors_as_json, _guard])
    app[_ENGINE] = engine
    app[_TOKEN] = token
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/v1/record-sets", _list_record_sets)
    app.router.add_get("/v1/record-sets/{name}/{type}", _get_record_set)
    app.router.add_post("/v1/changes", _post_changes)
    app.router.add_get("/v1/audit", _get_audit)
    return app


def _engine(request: web.Request) -> Engine:
    engine: Engine = request.app[_ENGINE]
    return engine


def _error_response(error: DnsAdminError) -> web.Response:
    return web.json_response(error.to_json(), status=error.http_status)


@web.middleware
async def _errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except DnsAdminError as error:
        return _error_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 413:
            message = f"request body larger than {BODY_SIZE_MAX} bytes"
        else:
            message = f"{request.method} {request.path}: {error.reason}"
        code = _ROUTE_ERROR_CODES.get(error.status, HttpError.__name__)
        response = web.json_response({"error": code, "message": message, "change_index": None}, status=error.status)
        if "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except Exception as error:
        log("http_handler_failed", method=request.method, path=request.path, error=repr(error))
        body = InternalError(f"internal error: {error!r}").to_json()
        return web.json_response(body, status=500)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request that may change something: the Origin first (a page of another site is refused
    whatever it sends), then the bearer token; both before the body is read."""
    if request.method in READ_METHODS:
        return await handler(request)
    try:
        check_origin(request.headers.get("Origin"), request.host)
        check_bearer(request.headers.get("Authorization"), request.app[_TOKEN])
    except AuthRefused as refused:
        log("request_refused", method=request.method, path=request.path, error=refused.code,
            origin=request.headers.get("Origin"), remote=request.remote)
        if request.path == "/v1/changes":
            await _engine(request).refuse_unread(refused)
        response = _error_response(refused)
        if isinstance(refused, Unauthorized):
            response.headers["WWW-Authenticate"] = 'Bearer realm="dns-admin"'
        return response
    return await handler(request)


@web.middleware
async def _hardened(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Headers every answer carries: nothing sniffed as another type, framed by another site, or cached."""
    response = await handler(request)
    if not response.prepared:   # a stream (the console's events) sets its own before it starts
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _healthz(request: web.Request) -> web.Response:
    engine = _engine(request)
    return web.json_response({"ok": True, "zone": engine.zone, "serial": engine.serial})


async def _list_record_sets(request: web.Request) -> web.Response:
    engine = _engine(request)
    record_sets = [record_set.to_json() for record_set in engine.record_sets()]
    return web.json_response({"zone": engine.zone, "serial": engine.serial, "record_sets": record_sets})


async def _get_record_set(request: web.Request) -> web.Response:
    record_set = _engine(request).get(request.match_info["name"], request.match_info["type"])
    return web.json_response(record_set.to_json())


async def _post_changes(request: web.Request) -> web.Response:
    engine = _engine(request)
    try:
        body = await read_json(request)
    except InvalidInput as error:
        # Refused at the door, but still one audit row and one event, as every batch request gets.
        await engine.refuse_unread(error)
        raise
    accepted = await engine.submit(body)
    return web.json_response(accepted.to_json())


async def _get_audit(request: web.Request) -> web.Response:
    raw_limit = request.query.get("limit", str(AUDIT_LIMIT_DEFAULT))
    if _DIGITS.fullmatch(raw_limit) is None:
        raise InvalidInput(f"limit: expected an integer 1..1000, got {raw_limit!r}")
    entries = await _engine(request).audit(int(raw_limit))
    return web.json_response({"entries": [entry.to_json() for entry in entries]})


async def read_json(request: web.Request) -> object:
    """The request's body as JSON, refused (InvalidInput) unless it means one thing only (see below)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:  # beyond client_max_size
        raise InvalidInput(f"request body larger than {BODY_SIZE_MAX} bytes", http_status=413) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body: not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant,
                          parse_float=_finite_float, parse_int=_bounded_int)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"body: not valid JSON ({error})") from None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicates, json.loads keeps the last one silently; a batch must mean one thing only.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(f"body: duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(constant: str) -> Any:
    raise InvalidInput(f"body: {constant} is not valid JSON")


# Numbers are refused here, at the door, if JSON cannot carry them back out: 1e400 parses as an
# infinite float, which json.dumps would write as `Infinity` (not JSON) into the audit and its answers.
def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidInput(f"body: the number {quoted(text)} is out of range (not a finite double)")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if not INTEGER_MIN <= value <= INTEGER_MAX:
        raise InvalidInput(f"body: the integer {quoted(text)} is outside the signed 64-bit range")
    return value
