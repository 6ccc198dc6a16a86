"""dnsrace.dns_admin_client against the real dns-admin app (engine + SQLite) on aiohttp's test server,
and against servers that misbehave: every call ends as ok, fail (a named DnsAdminError) or info
(DnsAdminUnavailable).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dnsrace.dns_admin_client import ChangeResult, DnsAdminClient, DnsAdminUnavailable
from dnsrace.records import (AliasTargetMissing, ARecord, Change, ChangeBatch, DnsAdminError, InvalidInput,
                             RecordSet, RecordSetMismatch, RecordSetNotFound)
from dnsrace_admin.engine import Engine
from dnsrace_admin.http_api import make_app
from dnsrace_admin.store import ZoneStore
from enactor_fakes import EP, plan_set

ZONE = "lab.test"
TIMEOUT_S = 5.0
TOKEN = "unit-test-token-0123456789"


def plan_a(generation: int, *addresses: str) -> RecordSet:
    return RecordSet.a(plan_set(generation), 60, [ARecord(a, 1) for a in addresses])


def batch(*changes: Change, comment: str = "") -> ChangeBatch:
    return ChangeBatch(changes=changes, comment=comment)


class Sink:
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: object) -> None:
        return None


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[TestServer]:
    engine = Engine(ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE), zone=ZONE, zone_file_path=tmp_path / "db.lab.test",
                    negative_ttl_s=15, events=Sink())
    await engine.start()
    async with TestServer(make_app(engine, token=TOKEN)) as test_server:
        yield test_server
    await engine.close()


@pytest.fixture
async def admin(server: TestServer) -> AsyncIterator[DnsAdminClient]:
    client = DnsAdminClient(str(server.make_url("/")), zone=ZONE, timeout_s=TIMEOUT_S, client="enactor-a", token=TOKEN)
    yield client
    await client.close()


async def serve(app: web.Application) -> TestServer:
    test_server = TestServer(app)
    await test_server.start_server()
    return test_server


# --- ok and fail, against dns-admin ------------------------------------------------------------------


async def test_a_missing_record_set_reads_as_none(admin: DnsAdminClient) -> None:
    assert await admin.get_record_set(EP, "ALIAS") is None
    assert await admin.get_record_set(plan_set(1), "A") is None


async def test_submit_then_read_back_what_was_written(admin: DnsAdminClient) -> None:
    first = await admin.submit(batch(Change("CREATE", plan_a(1, "10.0.0.1", "10.0.0.2")),
                                     Change("CREATE", RecordSet.alias(EP, plan_set(1)))))
    assert first == ChangeResult("change-000001", 2)
    assert await admin.get_record_set(EP, "ALIAS") == RecordSet.alias(EP, plan_set(1))
    assert await admin.get_record_set(plan_set(1), "A") == plan_a(1, "10.0.0.1", "10.0.0.2")
    assert await admin.list_record_sets() == [RecordSet.alias(EP, plan_set(1)), plan_a(1, "10.0.0.1", "10.0.0.2")]


async def test_the_client_name_travels_with_every_batch_into_the_audit(admin: DnsAdminClient) -> None:
    await admin.submit(batch(Change("CREATE", plan_a(1, "10.0.0.1")), comment="plan-000001: record set"))
    (row,) = await admin.audit(10)
    assert (row["client"], row["comment"], row["outcome"]) == ("enactor-a", "plan-000001: record set", "accepted")


async def test_refusals_arrive_as_the_named_error_with_the_failing_change(admin: DnsAdminClient) -> None:
    await admin.submit(batch(Change("CREATE", plan_a(1, "10.0.0.1"))))
    with pytest.raises(RecordSetMismatch) as mismatch:
        await admin.submit(batch(Change("CREATE", plan_a(2, "10.0.0.2")), Change("DELETE", plan_a(1, "10.0.0.9"))))
    assert (mismatch.value.change_index, mismatch.value.http_status) == (1, 409)
    with pytest.raises(AliasTargetMissing):
        await admin.submit(batch(Change("CREATE", RecordSet.alias(EP, plan_set(7)))))
    assert await admin.get_record_set(plan_set(2), "A") is None  # nothing of a refused batch happened


async def test_an_invalid_read_is_a_400_not_a_missing_record(admin: DnsAdminClient) -> None:
    with pytest.raises(InvalidInput):
        await admin.get_record_set("x.example.com", "A")


async def test_a_404_that_is_not_a_missing_record_set_is_an_error_not_none(server: TestServer) -> None:
    # A wrong base URL answers 404 too, but NotFound, not RecordSetNotFound: "missing" would be a lie.
    wrong = DnsAdminClient(str(server.make_url("/nowhere")), zone=ZONE, timeout_s=TIMEOUT_S, client="enactor-a", token=TOKEN)
    try:
        with pytest.raises(DnsAdminError) as caught:
            await wrong.get_record_set(EP, "ALIAS")
        assert (caught.value.code, caught.value.http_status) == ("NotFound", 404)
        assert not isinstance(caught.value, RecordSetNotFound)
    finally:
        await wrong.close()


# --- misbehaving servers -----------------------------------------------------------------------------


async def test_an_error_page_that_is_not_json_is_an_error_with_its_status() -> None:
    async def bad_gateway(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>502 Bad Gateway\n</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", bad_gateway)
    test_server = await serve(app)
    client = DnsAdminClient(str(test_server.make_url("/")), zone=ZONE, timeout_s=TIMEOUT_S, client="enactor-a", token=TOKEN)
    try:
        for call in (client.get_record_set(EP, "ALIAS"), client.submit(batch(Change("CREATE", plan_a(1, "10.0.0.1"))))):
            with pytest.raises(DnsAdminError) as caught:
                await call
            assert (caught.value.code, caught.value.http_status) == ("UnexpectedResponse", 502)
            assert caught.value.message.startswith("HTTP 502, not JSON: '<html>502 Bad Gateway\\n</html>'")
    finally:
        await client.close()
        await test_server.close()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the socket is closed


async def test_no_server_is_unavailable_not_an_answer() -> None:
    client = DnsAdminClient(f"http://127.0.0.1:{closed_port()}", zone=ZONE, timeout_s=TIMEOUT_S, client="enactor-a", token=TOKEN)
    try:
        with pytest.raises(DnsAdminUnavailable):
            await client.get_record_set(EP, "ALIAS")
        with pytest.raises(DnsAdminUnavailable):  # info: the batch may or may not have been applied
            await client.submit(batch(Change("CREATE", plan_a(1, "10.0.0.1"))))
    finally:
        await client.close()


async def test_a_server_that_never_answers_is_unavailable_within_the_timeout(silent_port: int) -> None:
    client = DnsAdminClient(f"http://127.0.0.1:{silent_port}", zone=ZONE, timeout_s=0.2, client="enactor-a", token=TOKEN)
    try:
        with pytest.raises(DnsAdminUnavailable):
            await asyncio.wait_for(client.list_record_sets(), timeout=30)  # the outer bound only guards the test
    finally:
        await client.close()
