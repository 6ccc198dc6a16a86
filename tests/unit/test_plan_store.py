"""dnsrace.plan_store.PlanStore against a real redis-server (conftest.py), and the apply loop reading
its plans from it: what a bad plan in Redis does to an enactor (one plan_rejected, never a crash).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from dnsrace import plan_store as plan_store_module
from dnsrace.plan_store import PlanStore
from dnsrace.plans import MalformedPlan, Plan, Target
from dnsrace_enactor import apply_loop, legacy, safe
from dnsrace_enactor.apply_loop import Mode, one_pass
from enactor_fakes import EP, Lab, plan_set

ZONE = "lab.test"
TARGETS = (Target("backend-1", "10.0.0.1", 1), Target("backend-2", "10.0.0.2", 2))


@pytest.fixture
def store(redis_client: aioredis.Redis) -> PlanStore:
    return PlanStore(redis_client, zone=ZONE, timeout_s=5.0)


@pytest.fixture(autouse=True)
def alive_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(tmp_path / "enactor-alive"))


async def counter(redis: aioredis.Redis) -> int:
    return int(await redis.get("dnsrace:plans:generation") or 0)


async def store_raw(redis: aioredis.Redis, generation: int, **overrides: Any) -> None:
    """Write a plan into Redis as someone other than PlanStore.publish might: the enactors must cope."""
    obj = Plan(generation, (EP,), TARGETS, 1_700_000_000.0 + generation).to_json() | overrides
    await redis.set(f"dnsrace:plan:{generation}", json.dumps(obj))
    await redis.set("dnsrace:plans:latest", generation)


# --- publish and newest ------------------------------------------------------------------------------


async def test_there_is_no_newest_plan_before_the_first(store: PlanStore) -> None:
    assert await store.newest() is None


async def test_each_publish_takes_the_next_generation_and_becomes_the_newest(
        store: PlanStore, redis_client: aioredis.Redis) -> None:
    first = await store.publish([EP], TARGETS, reason="tick")
    assert await store.newest() == first
    second = await store.publish([EP], TARGETS[:1], reason="health changed")
    assert (first.generation, second.generation, await counter(redis_client)) == (1, 2, 2)
    assert await store.newest() == second
    assert await store.get(1) == first  # older plans stay readable
    assert second.targets == TARGETS[:1] and second.reason == "health changed"


async def test_a_plan_read_back_is_the_plan_published(store: PlanStore) -> None:
    published = await store.publish([EP.upper()], TARGETS, reason="tick")
    assert published.endpoints == (EP,)  # published in its canonical spelling
    assert await store.newest() == published == await store.get(published.generation)


@pytest.mark.parametrize(("endpoints", "targets", "message"), [
    ([EP], (), "targets must be a list of 1..100"),
    (["dynamodb.example.com"], TARGETS, "not inside the zone lab.test"),
    ([EP, EP], TARGETS, "endpoints repeat a name"),
], ids=["empty", "outside-zone", "repeated-endpoint"])
async def test_a_plan_that_would_be_refused_when_read_is_never_published(
        store: PlanStore, redis_client: aioredis.Redis, endpoints: list[str], targets: tuple[Target, ...],
        message: str) -> None:
    with pytest.raises(MalformedPlan, match=message):
        await store.publish(endpoints, targets, reason="tick")
    assert await counter(redis_client) == 0  # refused before a generation was taken
    assert await store.newest() is None


async def test_only_the_newest_plans_kept_are_stored(store: PlanStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_store_module, "PLANS_KEPT", 2)
    for _ in range(3):
        await store.publish([EP], TARGETS, reason="tick")
    assert [await store.get(g) is not None for g in (1, 2, 3)] == [False, True, True]


@pytest.mark.parametrize(("latest", "message"), [("7", "names generation 7, which is not stored"),
                                                 ("seven", "holds b'seven', not a generation")])
async def test_a_newest_pointer_to_nothing_is_a_malformed_plan(
        store: PlanStore, redis_client: aioredis.Redis, latest: str, message: str) -> None:
    await redis_client.set("dnsrace:plans:latest", latest)
    with pytest.raises(MalformedPlan, match=message):
        await store.newest()


async def test_a_stored_plan_is_validated_for_the_zone_when_read(
        store: PlanStore, redis_client: aioredis.Redis) -> None:
    await store_raw(redis_client, 3, endpoints=["DynamoDB.US-East-1.lab.test."])
    newest = await store.newest()
    assert newest is not None and newest.endpoints == (EP,)
    await store_raw(redis_client, 4, endpoints=["dynamodb.us-east-1.other.test"])
    with pytest.raises(MalformedPlan, match="plan-000004: endpoint 'dynamodb.us-east-1.other.test'"):
        await store.newest()


async def test_a_redis_that_never_answers_is_a_timeout(silent_port: int) -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{silent_port}/0")  # no timeouts of its own
    try:
        silent = PlanStore(client, zone=ZONE, timeout_s=0.2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(silent.newest(), timeout=30)  # the outer bound only guards the test
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(silent.publish([EP], TARGETS, reason="tick"), timeout=30)
    finally:
        await client.close()


# --- the apply loop over plans read from Redis -------------------------------------------------------


@pytest.mark.parametrize("mode", [legacy, safe], ids=["legacy", "safe"])
@pytest.mark.parametrize("endpoint", ["dynamodb.us-east-1.example.com", "a" * 64 + ".lab.test", "lab.test",
                                      "x" * 60 + "." + "y" * 60 + "." + "z" * 60 + "." + "w" * 50 + ".lab.test"],
                         ids=["outside-zone", "long-label", "apex", "plan-record-too-long"])
async def test_a_plan_dns_admin_would_refuse_is_rejected_once_and_never_crashes_the_enactor(
        store: PlanStore, redis_client: aioredis.Redis, mode: Mode, endpoint: str) -> None:
    lab = Lab()
    enactor, events, lock = lab.enactor(plans=store)  # type: ignore[arg-type]
    await store_raw(redis_client, 9, endpoints=[endpoint])
    for _ in range(3):
        await one_pass(enactor, mode)  # legacy would have died here on dns-admin's refusal
    assert [(kind, plan) for kind, plan, _, _ in events.events] == [("plan_rejected", None)]
    assert events.events[0][3]["error"].startswith("plan-000009: endpoint ")
    assert (lock.attempts, lab.admin.zone) == (0, {})

    good = await store.publish([EP], TARGETS, reason="tick")  # generation 1: the counter was never taken
    await one_pass(enactor, mode)
    assert lab.admin.alias_target(EP) == plan_set(good.generation)


async def test_an_endpoint_spelled_in_capitals_is_the_same_endpoint_to_the_staleness_check(
        store: PlanStore, redis_client: aioredis.Redis) -> None:
    lab = Lab()
    enactor, events, _ = lab.enactor(plans=store)  # type: ignore[arg-type]
    await store_raw(redis_client, 5, endpoints=["DynamoDB.us-east-1.lab.test"])
    await one_pass(enactor, legacy)
    assert lab.admin.alias_target(EP) == plan_set(5)
    # An older plan in capitals is checked against the same endpoint, found stale, and skipped.
    other, other_events, _ = lab.enactor("enactor-b", plans=store)  # type: ignore[arg-type]
    await store_raw(redis_client, 3, endpoints=["DYNAMODB.US-EAST-1.LAB.TEST"])
    await one_pass(other, legacy)
    assert other_events.kinds() == ["plan_skipped"]
    assert lab.admin.alias_target(EP) == plan_set(5)
