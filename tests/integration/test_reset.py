"""make reset (dnsrace_lab.stack.reset): after it, nothing of the previous run is visible.

The stack is made as dirty as a run can leave it — many plans, a lock held by a dead enactor with a
high fencing counter, an operator's record set, a toxic, a disabled proxy, a paused enactor, an
unhealthy backend — then reset in place, and every trace is looked for: plans, events, record sets,
audit rows, locks, toxics, paused containers, restart counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from dnsrace.keys import EVENTS_STREAM, lock_key, plan_key
from dnsrace_lab.stack.names import ENACTORS, lab_pythonpath

from .stack import ENDPOINT, TOP, Stack, wait_for

pytestmark = pytest.mark.integration

LOCK_KEY = lock_key(ENDPOINT)
FENCE_KEY = f"{LOCK_KEY}:fence"
STALE_FENCE = 1_000_000
LEFTOVER = "leftover.lab.test"


def reset(stack: Stack, mode: str = "legacy") -> subprocess.CompletedProcess[str]:
    env = stack.env | {"PYTHONPATH": lab_pythonpath()}
    return subprocess.run([sys.executable, "-m", "dnsrace_lab.stack.reset", "--mode", mode, "--project", stack.project],
                          cwd=TOP, env=env, capture_output=True, text=True, timeout=300)


def toxiproxy(stack: Stack, method: str, path: str, body: dict | None = None) -> object:
    import urllib.request
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ports['toxiproxy']}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "User-Agent": "dnsrace-test"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def test_reset_leaves_nothing_of_the_previous_run(stack: Stack) -> None:
    # --- a dirty stack -------------------------------------------------------------------------------
    wait_for("at least 3 plans", lambda: stack.newest_plan()["generation"] >= 3, within_s=60)
    client = stack.redis()
    try:
        # A lock left by an enactor that died holding it, and a fencing counter far along.
        client.set(LOCK_KEY, "enactor-x:999999", px=600_000)
        client.set(FENCE_KEY, STALE_FENCE)
        old_plan_ids = {json.loads(client.get(key))["id"] for key in client.scan_iter(plan_key("*"))}
        old_event_count = client.xlen(EVENTS_STREAM)
    finally:
        client.close()
    status, body = stack.admin("POST", "/v1/changes", {
        "changes": [{"action": "CREATE", "record_set": {"name": LEFTOVER, "type": "A", "ttl": 60,
                                                        "records": [{"address": "192.0.2.7", "weight": 1}]}}]})
    assert status == 200, body
    toxiproxy(stack, "POST", "/proxies/enactor-b-dns-admin/toxics",
              {"name": "left-behind", "type": "latency", "stream": "upstream", "attributes": {"latency": 5}})
    toxiproxy(stack, "POST", "/proxies/enactor-c-redis", {"enabled": False})
    subprocess.run(["docker", "pause", stack.container("enactor-c")], check=True, timeout=30)
    stack.compose("exec", "-T", "backend-2", "python3", "-m", "dnsrace_backend.control", "fail")
    assert old_plan_ids and old_event_count > 0

    # --- reset ---------------------------------------------------------------------------------------
    reset_started = time.time()
    result = reset(stack)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "serving: the lab is as it was at its first second" in result.stdout

    # --- nothing of before ---------------------------------------------------------------------------
    proxies = toxiproxy(stack, "GET", "/proxies")
    assert isinstance(proxies, dict)
    assert all(p["enabled"] and not p["toxics"] for p in proxies.values()), proxies
    states = {name: stack.inspect(name)["State"]["Status"] for name in ENACTORS}
    assert states == dict.fromkeys(states, "running"), states
    restarts = {name: stack.inspect(name)["RestartCount"] for name in (*ENACTORS, "planner")}
    assert set(restarts.values()) == {0}, restarts

    client = stack.redis()
    try:
        plans = [json.loads(client.get(key)) for key in client.scan_iter(plan_key("*"))]
        assert plans, "no plan after the reset"
        assert all(plan["created_at"] >= reset_started for plan in plans), "a plan from before the reset"
        assert min(plan["generation"] for plan in plans) == 1, "generations did not start again from 1"
        lock = client.get(LOCK_KEY)
        assert lock is None or not lock.startswith(b"enactor-x"), lock
        assert int(client.get(FENCE_KEY) or 0) < STALE_FENCE
        events = [json.loads(fields[b"event"]) for _id, fields in client.xrange(EVENTS_STREAM)]
        assert events and all(event["t"] >= reset_started for event in events), "an event from before the reset"
        assert int(client.xrange(EVENTS_STREAM, count=1)[0][1][b"seq"]) == 1
    finally:
        client.close()

    # The zone: only what the lab makes by itself (plan record sets, the endpoint, rollback), and the
    # audit shows that every batch that made them came after the reset (ids start again from
    # plan-000001, so a name alone cannot tell).
    assert stack.record_set(LEFTOVER, "A") is None
    kinds = {rs["name"].split(".", 1)[0] if rs["name"] != ENDPOINT else "endpoint" for rs in stack.record_sets()}
    assert all(kind in ("endpoint", "rollback") or kind.startswith("plan-") for kind in kinds), kinds
    status, audit = stack.admin("GET", "/v1/audit?limit=1000")
    assert status == 200 and audit["entries"], audit
    assert all(row["t"] >= reset_started for row in audit["entries"]), "an audit row from before the reset"
    assert audit["entries"][0]["seq"] == 1

    # The backend switched back to healthy: the newest plan has all three again.
    wait_for("a plan with all three backends", lambda: len(stack.newest_plan()["targets"]) == 3, within_s=30)
    assert stack.query().addresses
