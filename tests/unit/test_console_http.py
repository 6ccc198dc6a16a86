"""The console over HTTP (aiohttp's test server, a real engine and store; the event history and CoreDNS
faked at the console's edges): the page, the API, the stream, and the repair behind the token."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dnsrace.records import Change
from dnsrace_admin.console.now import Answer
from dnsrace_admin.console.routes import Console, add_console
from dnsrace_admin.console.status import History
from dnsrace_admin.engine import Engine
from dnsrace_admin.http_api import make_app
from dnsrace_admin.store import ZoneStore

from console_histories import EP, H, ROLLBACK, answer, plan

ZONE = "lab.test"
TOKEN = "unit-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append((kind, plan, detail))


class Lab:
    """What the console sees at its edges, set by each test."""

    def __init__(self) -> None:
        self.history = H()
        self.resolver = answer()

    async def read(self) -> History:
        return History(list(self.history.events), kept_max=1000)

    async def ask(self, view: str) -> Answer:
        return self.resolver if view == "resolver" else answer("authoritative", empty=self.resolver.empty)

    async def plans(self, generations: Iterable[int]) -> tuple[int | None, dict[int, float]]:
        return 18, {18: 1.0}


def a_set(generation: int) -> dict[str, Any]:
    return {"name": plan(generation), "type": "A", "ttl": 1, "records": [{"address": "10.0.0.1", "weight": 1}]}


def alias(name: str, generation: int) -> dict[str, Any]:
    return {"name": name, "type": "ALIAS", "target": plan(generation)}


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Lab, Recorder, Engine]]:
    sink = Recorder()
    engine = Engine(ZoneStore(tmp_path / "zone.sqlite3", zone=ZONE), zone=ZONE, zone_file_path=tmp_path / "db.lab.test",
                    negative_ttl_s=15, events=sink)
    await engine.start()
    lab = Lab()
    app = make_app(engine, token=TOKEN)
    add_console(app, Console(engine=engine, events=sink, endpoint=EP, negative_ttl_s=15, history=lab.read,
                             ask=lab.ask, plans=lab.plans))
    async with TestClient(TestServer(app)) as client:
        yield client, lab, sink, engine
    await engine.close()


async def outage(client: TestClient, lab: Lab) -> None:
    """The zone in the outage: the endpoint aliases plan 15, which is gone; plans 16 and 17 exist."""
    changes = [{"action": "CREATE", "record_set": a_set(g)} for g in (15, 16, 17)]
    changes += [{"action": "CREATE", "record_set": alias(EP, 15)}, {"action": "CREATE", "record_set": alias(ROLLBACK, 16)}]
    assert (await client.post("/v1/changes", json={"changes": changes}, headers=AUTH)).status == 200
    # As Route 53 does, dns-admin lets a batch delete a record set an alias still points at: the outage.
    delete = {"changes": [{"action": "DELETE", "record_set": a_set(15)}]}
    assert (await client.post("/v1/changes", json=delete, headers=AUTH)).status == 200
    lab.history.batch(1.0, "enactor-a", Change.from_json({"action": "UPSERT", "record_set": alias(EP, 15)}, zone=ZONE))
    lab.history.batch(2.0, "enactor-c", Change.from_json(delete["changes"][0], zone=ZONE), comment="cleanup after plan-000020")
    lab.resolver = answer(empty=True)


async def test_the_page_carries_no_secret_runs_only_its_own_files_and_loads_them(setup: Any) -> None:
    client, *_ = setup
    response = await client.get("/")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert TOKEN not in page and "<script>" not in page and "http://" not in page and "https://" not in page
    for name, kind in (("console.js", "application/javascript"), ("console.css", "text/css"),
                       ("favicon.svg", "image/svg+xml")):
        got = await client.get(f"/static/{name}")
        assert got.status == 200 and got.content_type == kind
    assert "innerHTML" not in await (await client.get("/static/console.js")).text()
    assert (await client.get("/static/..%2fauth.py")).status == 404
    assert (await client.get("/static/index.html")).status == 404


async def test_status_names_the_one_alert_and_now(setup: Any) -> None:
    client, lab, *_ = setup
    await outage(client, lab)
    status = await (await client.get("/api/status")).json()
    assert status["alert"]["kind"] == "endpoint-empty"
    assert status["alert"]["summary"].startswith("plan-000015, the live plan, deleted by enactor-c's cleanup")
    assert status["now"]["endpoint"] == {"name": plan(15), "plan": "plan-000015", "generation": 15, "exists": False,
                                         "created": None}
    assert status["now"]["newest_existing"]["plan"] == "plan-000017" and status["now"]["resolver"]["empty"] is True
    assert status["now"]["newest_published"] == {"plan": "plan-000018", "generation": 18, "created": 1.0, "exists": False}


@pytest.mark.parametrize("query", ["service=%3Cb%3E", "plan=plan-1", "plan=x", "limit=0", "limit=2001", "limit=abc",
                                   "nope=1"])
async def test_bad_timeline_queries_are_400_with_a_reason(setup: Any, query: str) -> None:
    client, *_ = setup
    response = await client.get(f"/api/timeline?{query}")
    body = await response.json()
    assert response.status == 400 and body["error"] == "InvalidInput" and body["message"]


async def test_timeline_and_plans_answer(setup: Any) -> None:
    client, lab, *_ = setup
    await outage(client, lab)
    timeline = await (await client.get("/api/timeline?service=dns-admin&limit=5")).json()
    assert [e["chain"] for e in timeline["events"]] == [False, True] and timeline["chain"]   # the deletion is the root
    plans = await (await client.get("/api/plans?limit=2")).json()
    # The newest two, and the live plan however old: in the outage it is the one that matters.
    assert [(p["plan"], p["live"], p["exists"]) for p in plans["plans"]] == [
        ("plan-000017", False, True), ("plan-000016", False, True), ("plan-000015", True, False)]
    assert (await client.get("/api/plans?limit=-1")).status == 400
    assert (await client.get("/api/status?x=1")).status == 400


async def test_repair_without_a_token_is_401_with_a_wrong_one_403_from_another_site_403(setup: Any) -> None:
    client, lab, sink, engine = setup
    await outage(client, lab)
    before = engine.serial
    response = await client.post("/api/repair", json={})
    assert response.status == 401 and (await response.json())["error"] == "Unauthorized"
    response = await client.post("/api/repair", json={}, headers={"Authorization": "Bearer not-the-token-000000"})
    assert response.status == 403 and (await response.json())["error"] == "Forbidden"
    response = await client.post("/api/repair", json={}, headers={**AUTH, "Origin": "http://evil.example"})
    assert response.status == 403 and (await response.json())["error"] == "CrossSiteRequest"
    assert engine.serial == before and not [e for e in sink.events if e[0] == "operator_repair"]


async def test_repair_with_the_token_points_at_the_newest_existing_plan_and_shows_its_audit_row(setup: Any) -> None:
    client, lab, sink, engine = setup
    await outage(client, lab)
    own = f"http://{client.server.host}:{client.server.port}"
    response = await client.post("/api/repair", json={"expect_target": "plan-000017"}, headers={**AUTH, "Origin": own})
    body = await response.json()
    assert response.status == 200, body
    assert (body["target"], body["before"], body["rollback_cleared"]) == ("plan-000017", "plan-000015", "plan-000016")
    assert body["audit"]["change_id"] == body["change_id"] and body["audit"]["client"] == "operator"
    assert body["audit"]["outcome"] == "accepted"
    aliases = {rs.name: rs.target for rs in engine.record_sets() if rs.type == "ALIAS"}
    assert aliases == {EP: plan(17)}
    assert ("operator_repair", "plan-000017") in [(kind, p) for kind, p, _ in sink.events]
    again = await client.post("/api/repair", json={}, headers=AUTH)
    assert again.status == 409 and (await again.json())["error"] == "NothingToRepair"


async def test_repair_refuses_a_plan_older_than_confirmed_and_a_bad_body(setup: Any) -> None:
    client, lab, _, engine = setup
    await outage(client, lab)
    before = engine.serial
    # plan-000018 confirmed, the newest existing is plan-000017: as if 18 had been deleted meanwhile
    moved = await client.post("/api/repair", json={"expect_target": "plan-000018"}, headers=AUTH)
    assert moved.status == 409 and (await moved.json())["error"] == "PlanMoved"
    bad = await client.post("/api/repair", data=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert bad.status == 400
    unknown = await client.post("/api/repair", json={"force": True}, headers=AUTH)
    assert unknown.status == 400 and "force" in (await unknown.json())["message"]
    assert engine.serial == before


async def test_the_stream_sends_the_status_as_a_server_sent_event(setup: Any) -> None:
    client, lab, *_ = setup
    await outage(client, lab)
    response = await client.get("/api/stream")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    received = b""
    while b"event: status" not in received or b"\n\n" not in received.split(b"event: status", 1)[1]:
        received += await response.content.read(4096)
    event = received.split(b"event: status\ndata: ", 1)[1].split(b"\n\n", 1)[0]
    assert json.loads(event)["alert"]["kind"] == "endpoint-empty"
    response.close()


async def test_reads_change_nothing(setup: Any) -> None:
    client, lab, sink, engine = setup
    await outage(client, lab)
    before, emitted = engine.serial, len(sink.events)
    for path in ("/", "/api/status", "/api/timeline", "/api/plans", "/api/repair"):
        await client.get(path)
    assert engine.serial == before and len(sink.events) == emitted
