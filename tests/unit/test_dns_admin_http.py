"""The dns-admin HTTP API through aiohttp's test server, and the process entry point (config, signals)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dnsrace.records import AliasTargetMissing, RecordSetMismatch, error_from_json
from dnsrace_admin.config import ConfigError, load_config
from dnsrace_admin.engine import Engine
from dnsrace_admin.event_sink import StdoutEventSink
from dnsrace_admin.http_api import BODY_SIZE_MAX, make_app
from dnsrace_admin.store import ZoneStore

ZONE = "lab.test"
TOKEN = "unit-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EP = "dynamodb.us-east-1.lab.test"
PLAN_1 = f"plan-000001.{EP}"
PLAN_2 = f"plan-000002.{EP}"
REPO = Path(__file__).resolve().parents[2]


def a_set(name: str, *addresses: str) -> dict[str, Any]:
    return {"name": name, "type": "A", "ttl": 60, "records": [{"address": a, "weight": 1} for a in addresses]}


def batch(*changes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"changes": [{"action": action, "record_set": rs} for action, rs in changes], "client": "enactor-a"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient]:
    engine = Engine(
        ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE),
        zone=ZONE,
        zone_file_path=tmp_path / "db.lab.test",
        negative_ttl_s=15,
        events=StdoutEventSink(service="dns-admin"),
    )
    await engine.start()
    async with TestClient(TestServer(make_app(engine, token=TOKEN)), headers=AUTH) as test_client:
        yield test_client
    await engine.close()


async def expect_error(response: Any, status: int, code: str, change_index: int | None = None) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error", "message", "change_index"}
    assert body["error"] == code
    assert body["change_index"] == change_index
    assert isinstance(body["message"], str) and body["message"]
    return dict(body)


# --- reads -------------------------------------------------------------------------------------------


async def test_healthz_and_empty_listing(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"ok": True, "zone": ZONE, "serial": 1}
    response = await client.get("/v1/record-sets")
    assert await response.json() == {"zone": ZONE, "serial": 1, "record_sets": []}


async def test_post_then_read_back(client: TestClient) -> None:
    response = await client.post(
        "/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1")), ("UPSERT", {"name": EP, "type": "ALIAS", "target": PLAN_1}))
    )
    assert response.status == 200
    assert await response.json() == {"change_id": "change-000001", "serial": 2, "status": "INSYNC"}
    listing = await (await client.get("/v1/record-sets")).json()
    assert listing["serial"] == 2
    assert listing["record_sets"] == [
        {"name": EP, "type": "ALIAS", "target": PLAN_1},
        a_set(PLAN_1, "10.0.0.1"),
    ]
    response = await client.get(f"/v1/record-sets/{EP}/ALIAS")
    assert response.status == 200
    assert await response.json() == {"name": EP, "type": "ALIAS", "target": PLAN_1}
    response = await client.get(f"/v1/record-sets/{PLAN_1.upper()}./A")
    assert await response.json() == a_set(PLAN_1, "10.0.0.1")


async def test_get_missing_record_set_is_404(client: TestClient) -> None:
    await expect_error(await client.get(f"/v1/record-sets/{EP}/A"), 404, "RecordSetNotFound")


@pytest.mark.parametrize("path", [f"/v1/record-sets/{EP}/CNAME", "/v1/record-sets/x.example.com/A", "/v1/record-sets/lab.test/A"])
async def test_get_with_bad_name_or_type_is_400(client: TestClient, path: str) -> None:
    await expect_error(await client.get(path), 400, "InvalidInput")


# --- writes ------------------------------------------------------------------------------------------


async def test_conflict_is_409_with_change_index_and_rebuildable(client: TestClient) -> None:
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1"))))
    response = await client.post(
        "/v1/changes",
        json=batch(
            ("CREATE", a_set(PLAN_2, "10.0.0.2")),
            ("UPSERT", {"name": f"rollback.{EP}", "type": "ALIAS", "target": f"plan-000110.{EP}"}),
        ),
    )
    body = await expect_error(response, 409, "AliasTargetMissing", change_index=1)
    assert body["message"] == (
        f"change 1: UPSERT ALIAS rollback.{EP} -> plan-000110.{EP}: alias target does not exist"
    )
    assert isinstance(error_from_json(409, body), AliasTargetMissing)
    response = await client.post("/v1/changes", json=batch(("DELETE", a_set(PLAN_1, "10.0.0.9"))))
    body = await expect_error(response, 409, "RecordSetMismatch", change_index=0)
    assert isinstance(error_from_json(409, body), RecordSetMismatch)
    assert (await (await client.get("/healthz")).json())["serial"] == 2  # nothing moved


async def test_invalid_batch_is_400(client: TestClient) -> None:
    response = await client.post("/v1/changes", json=batch(("CREATE", a_set("a.lab.test\n@ IN A 1.2.3.4", "10.0.0.1"))))
    await expect_error(response, 400, "InvalidInput", change_index=0)
    response = await client.post("/v1/changes", json={"changes": [], "client": "enactor-a"})
    await expect_error(response, 400, "InvalidInput")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{\"changes\": [",
        b"\xff\xfe\x00",  # not UTF-8
        b"{\"changes\": [], \"changes\": []}",  # duplicate key
        b"{\"changes\": NaN}",
        b"[" * 100_000 + b"]" * 100_000,  # nesting deep enough to exhaust the recursion limit
    ],
)
async def test_non_json_body_is_400(client: TestClient, data: bytes) -> None:
    response = await client.post("/v1/changes", data=data, headers={"Content-Type": "application/json"})
    await expect_error(response, 400, "InvalidInput")


def strict_json(text: str) -> Any:
    """Parse as JSON means it: `Infinity` and `NaN` are not JSON, whatever json.loads accepts by default."""
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


async def audit_rows(client: TestClient) -> list[dict[str, Any]]:
    response = await client.get("/v1/audit", params={"limit": "1000"})
    assert response.status == 200
    return list(strict_json(await response.text())["entries"])


@pytest.mark.parametrize(("data", "fragment"), [
    (b'{"changes": 1e400}', "not a finite double"),
    (b'{"changes": [], "comment": -1e400}', "not a finite double"),
    (b'{"changes": 1' + b"0" * 400 + b'.5}', "not a finite double"),
    (b'{"changes": 9223372036854775808}', "signed 64-bit"),
    (b'{"changes": [{"action": "CREATE", "record_set": {"name": "x.lab.test", "type": "A", "ttl": 1e999, '
     b'"records": [{"address": "10.0.0.1", "weight": 1}]}}]}', "not a finite double"),
], ids=["1e400", "-1e400", "long-float", "2^63", "ttl-1e999"])
async def test_numbers_json_cannot_carry_back_out_are_refused_at_the_door(
        client: TestClient, data: bytes, fragment: str) -> None:
    response = await client.post("/v1/changes", data=data, headers={"Content-Type": "application/json"})
    body = await expect_error(response, 400, "InvalidInput")
    assert fragment in body["message"]
    rows = await audit_rows(client)  # the audit still answers JSON, and holds the refusal
    assert [(row["outcome"], row["batch"]) for row in rows] == [("InvalidInput", None)]


@pytest.mark.parametrize("data", [
    b"not json", b"\xff\xfe\x00", b'{"changes": [], "changes": []}', b'{"changes": NaN}', b'{"changes": 1e400}',
    b"[" * 100_000 + b"]" * 100_000, json.dumps({"changes": [], "comment": "x" * (BODY_SIZE_MAX + 1)}).encode(),
    json.dumps({"changes": [], "comment": "\ud800"}).encode(), b'{"changes": [], "client": "\\udfff"}',
], ids=["not-json", "not-utf8", "duplicate-key", "nan", "overflow", "deep", "oversize", "surrogate-comment",
        "surrogate-client"])
async def test_every_refused_request_leaves_exactly_one_audit_row(client: TestClient, data: bytes) -> None:
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1"))))
    response = await client.post("/v1/changes", data=data, headers={"Content-Type": "application/json"})
    assert response.status in (400, 413)
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1"))))
    rows = await audit_rows(client)
    assert [row["outcome"] for row in rows] == ["accepted", "InvalidInput", "RecordSetExists"]
    assert all(isinstance(row[key], str) and row[key].isprintable() for row in rows for key in ("client", "comment"))


async def test_a_full_zone_is_a_409_that_names_the_limit(tmp_path: Path) -> None:
    engine = Engine(ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE), zone=ZONE, zone_file_path=tmp_path / "db",
                    negative_ttl_s=15, events=StdoutEventSink(service="dns-admin"), record_set_count_max=2)
    await engine.start()
    try:
        async with TestClient(TestServer(make_app(engine, token=TOKEN)), headers=AUTH) as client:
            full = batch(("CREATE", a_set(PLAN_1, "10.0.0.1")), ("CREATE", a_set(PLAN_2, "10.0.0.2")))
            assert (await client.post("/v1/changes", json=full)).status == 200
            over = batch(("CREATE", a_set(f"plan-000003.{EP}", "10.0.0.3")))
            body = await expect_error(await client.post("/v1/changes", json=over), 409, "ZoneFull")
            assert "limit of 2" in body["message"]
    finally:
        await engine.close()


async def test_oversize_body_is_413_json(client: TestClient) -> None:
    data = json.dumps({"changes": [], "comment": "x" * (BODY_SIZE_MAX + 1)}).encode()
    response = await client.post("/v1/changes", data=data, headers={"Content-Type": "application/json"})
    body = await expect_error(response, 413, "InvalidInput")
    assert str(BODY_SIZE_MAX) in body["message"]


# --- routes and audit --------------------------------------------------------------------------------


async def test_unknown_route_is_404_json(client: TestClient) -> None:
    await expect_error(await client.get("/v1/nope"), 404, "NotFound")


async def test_wrong_method_is_405_json(client: TestClient) -> None:
    await expect_error(await client.get("/v1/changes"), 405, "MethodNotAllowed")
    await expect_error(await client.delete("/v1/record-sets"), 405, "MethodNotAllowed")


async def test_audit_lists_accepted_and_rejected_newest_last(client: TestClient) -> None:
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1"))))
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_1, "10.0.0.1"))))
    await client.post("/v1/changes", json=batch(("CREATE", a_set(PLAN_2, "10.0.0.2"))))
    entries = (await (await client.get("/v1/audit")).json())["entries"]
    assert [(e["change_id"], e["outcome"]) for e in entries] == [
        ("change-000001", "accepted"),
        (None, "RecordSetExists"),
        ("change-000002", "accepted"),
    ]
    entries = (await (await client.get("/v1/audit", params={"limit": "1"})).json())["entries"]
    assert [e["change_id"] for e in entries] == ["change-000002"]


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "", "1.5", "99999999999"])
async def test_audit_bad_limit_is_400(client: TestClient, limit: str) -> None:
    await expect_error(await client.get("/v1/audit", params={"limit": limit}), 400, "InvalidInput")


# --- configuration and the process -------------------------------------------------------------------


def test_config_defaults() -> None:
    config = load_config({"DNSRACE_ADMIN_TOKEN": TOKEN})
    assert (config.zone, config.negative_ttl_s, config.ns_address, config.http_port) == (ZONE, 15, "127.0.0.1", 8080)
    assert config.store_path == Path("/data/zone.sqlite3")
    assert config.zone_file_path == Path("/zones/db.lab.test")
    assert config.redis_url is None and config.service_name == "dns-admin"
    assert config.record_set_count_max == 10_000


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"NEGATIVE_TTL_S": "0"}, "NEGATIVE_TTL_S"),
        ({"NEGATIVE_TTL_S": "3601"}, "NEGATIVE_TTL_S"),
        ({"NEGATIVE_TTL_S": "ten"}, "NEGATIVE_TTL_S"),
        ({"HTTP_PORT": "70000"}, "HTTP_PORT"),
        ({"ZONE": "test"}, "ZONE"),
        ({"ZONE": "lab test"}, "ZONE"),
        ({"NS_ADDRESS": "localhost"}, "NS_ADDRESS"),
        ({"REDIS_URL": "http://redis:6379"}, "REDIS_URL"),
        ({"SERVICE_NAME": "DNS Admin"}, "SERVICE_NAME"),
        ({"DATA_DIR": ""}, "DATA_DIR"),
        ({"ZONE_RECORD_SET_COUNT_MAX": "0"}, "ZONE_RECORD_SET_COUNT_MAX"),
    ],
)
def test_config_rejects_bad_settings(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=f"^{key}: "):
        load_config({"DNSRACE_ADMIN_TOKEN": TOKEN, **env})


def _process_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ZONE", "NEGATIVE_TTL_S", "HTTP_PORT")}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO / "services" / p) for p in ("common", "dns-admin"))
    env["DNSRACE_ADMIN_TOKEN"] = TOKEN
    env.update(settings)
    return env


def test_bad_setting_exits_2_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dnsrace_admin"],
        env=_process_env(NEGATIVE_TTL_S="0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dns-admin: bad setting: NEGATIVE_TTL_S: expected an integer 1..3600, got '0'"
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_process_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = _process_env(DATA_DIR=str(tmp_path / "data"), ZONE_DIR=str(tmp_path / "zones"), HTTP_PORT=str(port))
    process = subprocess.Popen(
        [sys.executable, "-m", "dnsrace_admin"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        health: dict[str, Any] | None = None
        deadline = time.monotonic() + 20
        while health is None and time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    health = json.loads(response.read())
            except OSError:
                time.sleep(0.1)
        assert health == {"ok": True, "zone": ZONE, "serial": 1}
        assert "1 60 30 86400 15" in (tmp_path / "zones" / "db.lab.test").read_text()
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert '"kind": "zone_rendered"' in stdout  # the stdout sink, since REDIS_URL is unset
    assert "dns_admin_stopping" in stderr
