"""dnsrace_planner.health: the BACKENDS list, and observe() against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dnsrace_planner.health import Backend, Observation, observe

TIMEOUT_S = 5.0


# --- Backend.parse_list ------------------------------------------------------------------------------


def test_parse_list_reads_names_and_ports_in_order_ignoring_spaces() -> None:
    assert Backend.parse_list(" backend-1:8080 , backend-2:9000,backend-3:1") == (
        Backend("backend-1", 8080), Backend("backend-2", 9000), Backend("backend-3", 1),
    )
    assert Backend.parse_list("backend-1:65535") == (Backend("backend-1", 65535),)


@pytest.mark.parametrize(
    ("text", "entry"),
    [("", "''"), ("backend-1", "'backend-1'"), (":8080", "':8080'"), ("backend-1:", "'backend-1:'"),
     ("backend-1:0", "'backend-1:0'"), ("backend-1:65536", "'backend-1:65536'"), ("backend-1:-1", "'backend-1:-1'"),
     ("backend-1:80x", "'backend-1:80x'"), ("backend-1:8080,", "''"), ("a:1,,b:2", "''"),
     ("backend-1:80:81", "'backend-1:80:81'"), ("bad name:80", "'bad name:80'"),
     ("b" * 65 + ":80", "'" + "b" * 65 + ":80'")],
)
def test_parse_list_names_the_bad_entry(text: str, entry: str) -> None:
    with pytest.raises(ValueError, match=f"backend {entry} is not NAME:PORT"):
        Backend.parse_list(text)


def test_parse_list_refuses_a_name_given_twice() -> None:
    with pytest.raises(ValueError, match="distinct NAME:PORT"):
        Backend.parse_list("backend-1:8080,backend-1:9090")


def test_parse_list_names_the_entry_even_for_a_superscript_port() -> None:
    with pytest.raises(ValueError, match="backend 'backend-1:\u00b2' is not NAME:PORT"):
        Backend.parse_list("backend-1:\u00b2")


# --- observe -----------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: str = '{"capacity": 10}'
    content_type: str = "application/json"


@pytest.fixture
async def backend() -> AsyncIterator[tuple[Backend, Reply]]:
    """A real aiohttp server on 127.0.0.1 whose /health answers whatever `Reply` says; named `localhost`."""
    reply = Reply()

    async def health(request: web.Request) -> web.Response:
        return web.Response(status=reply.status, text=reply.body, content_type=reply.content_type)

    app = web.Application()
    app.router.add_get("/health", health)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield Backend("localhost", server.port), reply
    finally:
        await server.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def test_a_healthy_backend_reports_its_capacity(backend: tuple[Backend, Reply],
                                                      session: aiohttp.ClientSession) -> None:
    target, _ = backend
    assert await observe(session, target, timeout_s=TIMEOUT_S) == Observation("localhost", "127.0.0.1", True, 10, "ok")


async def test_a_503_is_unhealthy_and_keeps_the_capacity_it_reported(backend: tuple[Backend, Reply],
                                                                     session: aiohttp.ClientSession) -> None:
    target, reply = backend
    reply.status, reply.body = 503, '{"capacity": 7}'
    assert await observe(session, target, timeout_s=TIMEOUT_S) == Observation(
        "localhost", "127.0.0.1", False, 7, "HTTP 503")


@pytest.mark.parametrize(("body", "why"), [('{"capacity": 300}', "bad capacity 300"),
                                           ('{"capacity": -1}', "bad capacity -1"),
                                           ('{"capacity": "10"}', "bad capacity '10'"),
                                           ('{"capacity": true}', "bad capacity True"),
                                           ('{"capacity": 1.5}', "bad capacity 1.5")])
async def test_a_bad_capacity_is_unhealthy_with_capacity_zero(backend: tuple[Backend, Reply],
                                                              session: aiohttp.ClientSession, body: str,
                                                              why: str) -> None:
    target, reply = backend
    reply.body = body
    assert await observe(session, target, timeout_s=TIMEOUT_S) == Observation("localhost", "127.0.0.1", False, 0, why)


async def test_a_body_that_is_not_json_is_unhealthy_and_says_why(backend: tuple[Backend, Reply],
                                                                 session: aiohttp.ClientSession) -> None:
    target, reply = backend
    reply.body, reply.content_type = "<html>502 Bad Gateway</html>", "text/html"
    observation = await observe(session, target, timeout_s=TIMEOUT_S)
    assert (observation.address, observation.healthy, observation.capacity) == ("127.0.0.1", False, 0)
    assert observation.why.startswith("JSONDecodeError: ")


async def test_an_unresolvable_name_is_unhealthy_with_no_address(session: aiohttp.ClientSession) -> None:
    observation = await observe(session, Backend("no-such-backend.invalid", 8080), timeout_s=TIMEOUT_S)
    assert (observation.backend, observation.address, observation.healthy, observation.capacity) == (
        "no-such-backend.invalid", None, False, 0)
    assert observation.why.startswith("no address: ")


async def test_a_refused_connection_is_unhealthy_and_names_the_error(session: aiohttp.ClientSession) -> None:
    # Bind then close a loopback port so that nothing listens on it for the request.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    observation = await observe(session, Backend("127.0.0.1", port), timeout_s=TIMEOUT_S)
    assert (observation.address, observation.healthy, observation.capacity) == ("127.0.0.1", False, 0)
    assert observation.why.startswith("ClientConnectorError: ")
