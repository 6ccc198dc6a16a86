"""Who may change anything on dns-admin: the bearer token (401 / 403, constant time) and the Origin check,
pure and through the HTTP API (aiohttp's test server). Reads need neither."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dnsrace_admin import auth
from dnsrace_admin.auth import CrossSiteRequest, Forbidden, Unauthorized, check_bearer, check_origin, validate_token
from dnsrace_admin.config import ConfigError, load_config
from dnsrace_admin.engine import Engine
from dnsrace_admin.event_sink import StdoutEventSink
from dnsrace_admin.http_api import make_app
from dnsrace_admin.store import ZoneStore

ZONE = "lab.test"
TOKEN = "unit-test-token-0123456789"
EP = "dynamodb.us-east-1.lab.test"
BATCH = {"changes": [{"action": "CREATE", "record_set": {"name": f"plan-000001.{EP}", "type": "A", "ttl": 60,
                                                          "records": [{"address": "10.0.0.1", "weight": 1}]}}]}


# --- pure --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token " + TOKEN])
def test_no_bearer_token_is_unauthorized(header: str | None) -> None:
    with pytest.raises(Unauthorized) as refused:
        check_bearer(header, TOKEN)
    assert refused.value.http_status == 401


@pytest.mark.parametrize("header", ["Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x", "Bearer wrong", "Bearer " + "é" * 20])
def test_a_wrong_token_is_forbidden_and_never_quoted(header: str) -> None:
    with pytest.raises(Forbidden) as refused:
        check_bearer(header, TOKEN)
    assert refused.value.http_status == 403 and TOKEN not in refused.value.message


def test_the_right_token_passes_whatever_the_scheme_is_spelt() -> None:
    check_bearer(f"Bearer {TOKEN}", TOKEN)
    check_bearer(f"bearer {TOKEN}", TOKEN)


def test_the_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)
    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    check_bearer(f"Bearer {TOKEN}", TOKEN)
    with pytest.raises(Forbidden):
        check_bearer("Bearer nope", TOKEN)
    assert compared == [(TOKEN.encode(), TOKEN.encode()), (b"nope", TOKEN.encode())]


def test_no_origin_and_the_pages_own_origin_pass_another_sites_does_not() -> None:
    check_origin(None, "127.0.0.1:8080")
    check_origin("http://127.0.0.1:8080", "127.0.0.1:8080")
    check_origin("HTTP://LOCALHOST:8080", "localhost:8080")
    for origin in ("http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1:8080", "null", ""):
        with pytest.raises(CrossSiteRequest):
            check_origin(origin, "127.0.0.1:8080")


@pytest.mark.parametrize("raw", ["", "short", "x" * 257, "has space in it 123", "quote\"0123456789abc", "new\nline0123456789"])
def test_a_weak_or_unsendable_token_is_refused_at_start_up_without_being_quoted(raw: str) -> None:
    with pytest.raises(ConfigError, match="^DNSRACE_ADMIN_TOKEN: ") as refused:
        load_config({"DNSRACE_ADMIN_TOKEN": raw})
    assert raw not in str(refused.value) or not raw


def test_a_token_of_token68_characters_is_taken_as_it_is() -> None:
    assert validate_token("abc-DEF_123.~+/xyz==") == "abc-DEF_123.~+/xyz=="
    assert load_config({"DNSRACE_ADMIN_TOKEN": TOKEN}).admin_token == TOKEN


# --- through the HTTP API ----------------------------------------------------------------------------

@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    engine = Engine(ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE), zone=ZONE, zone_file_path=tmp_path / "db.lab.test",
                    negative_ttl_s=15, events=StdoutEventSink(service="dns-admin"))
    await engine.start()
    async with TestClient(TestServer(make_app(engine, token=TOKEN))) as test_client:
        yield test_client
    await engine.close()


async def audit(client: TestClient) -> list[dict[str, Any]]:
    return list((await (await client.get("/v1/audit")).json())["entries"])


async def listing(client: TestClient) -> list[dict[str, Any]]:
    return list((await (await client.get("/v1/record-sets")).json())["record_sets"])


async def test_a_batch_without_a_token_is_401_changes_nothing_and_leaves_its_audit_row(client: TestClient) -> None:
    response = await client.post("/v1/changes", json=BATCH)
    assert response.status == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await response.json())["error"] == "Unauthorized"
    assert await listing(client) == []
    [row] = await audit(client)
    assert (row["outcome"], row["change_id"], row["batch"]) == ("Unauthorized", None, None)


async def test_a_refused_body_is_never_read(client: TestClient) -> None:
    response = await client.post("/v1/changes", data=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status == 401     # not 400: the body of an unauthenticated request is not looked at


async def test_a_wrong_token_is_403_and_changes_nothing(client: TestClient) -> None:
    response = await client.post("/v1/changes", json=BATCH, headers={"Authorization": "Bearer wrong-token-0123456789"})
    assert response.status == 403 and (await response.json())["error"] == "Forbidden"
    assert await listing(client) == []


async def test_another_sites_page_is_refused_even_with_the_token(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"}
    response = await client.post("/v1/changes", json=BATCH, headers=headers)
    assert response.status == 403 and (await response.json())["error"] == "CrossSiteRequest"
    assert await listing(client) == []


async def test_the_token_from_no_origin_or_the_pages_own_changes_the_zone(client: TestClient) -> None:
    response = await client.post("/v1/changes", json=BATCH, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    own = f"http://{client.server.host}:{client.server.port}"
    delete = {"changes": [{**BATCH["changes"][0], "action": "DELETE"}]}
    response = await client.post("/v1/changes", json=delete, headers={"Authorization": f"Bearer {TOKEN}", "Origin": own})
    assert response.status == 200


async def test_reads_need_no_token_and_every_answer_is_hardened(client: TestClient) -> None:
    for path in ("/healthz", "/v1/record-sets", "/v1/audit", "/v1/nope"):
        response = await client.get(path)
        assert response.status in (200, 404)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
