"""The planner's rounds (dnsrace_planner.__main__.Planner) publishing into a real Redis (conftest.py).

Health observations are handed in as values (health.py's observe() has its own tests); the clock is a
counter the test moves; the plans are read back through PlanStore, as the enactors read them.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from dnsrace.keys import PLANS_GENERATION
from dnsrace.plan_store import PlanStore
from dnsrace.plans import Plan, Target
from dnsrace_planner.__main__ import Planner, as_targets
from dnsrace_planner.health import Observation
from enactor_fakes import Recorder as EventRecorder

ZONE = "lab.test"
EP = "dynamodb.us-east-1.lab.test"
TICK_MS = 2_000


def up(backend: str, address: str, capacity: int = 10) -> Observation:
    return Observation(backend, address, True, capacity, "ok")


def down(backend: str, address: str | None) -> Observation:
    return Observation(backend, address, False, 0, "HTTP 503")


ALL_UP = [up("backend-1", "10.0.0.1"), up("backend-2", "10.0.0.2"), up("backend-3", "10.0.0.3")]
ALL_DOWN = [down("backend-1", "10.0.0.1"), down("backend-2", "10.0.0.2"), down("backend-3", None)]


class Recorder(EventRecorder):
    def take(self) -> list[str]:
        """The kinds emitted since the last take()."""
        kinds, self.events = self.kinds(), []
        return kinds


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events() -> Recorder:
    return Recorder("planner", [])


@pytest.fixture
def store(redis_client: aioredis.Redis) -> PlanStore:
    return PlanStore(redis_client, zone=ZONE, timeout_s=5.0)


@pytest.fixture
def planner(store: PlanStore, events: Recorder, clock: Clock) -> Planner:
    return Planner(store, events, (EP,), TICK_MS, clock=clock)  # type: ignore[arg-type]


def addresses(plan: Plan | None) -> list[str]:
    assert plan is not None
    return sorted(t.address for t in plan.targets)


async def test_the_first_round_publishes_plan_1_of_the_healthy_backends(
        planner: Planner, store: PlanStore, events: Recorder) -> None:
    published = await planner.round(ALL_UP)
    assert published is not None and published == await store.newest()
    assert (published.generation, published.endpoints, published.reason) == (1, (EP,), "tick")
    assert published.targets == tuple(Target(f"backend-{n}", f"10.0.0.{n}", 10) for n in (1, 2, 3))
    assert events.kinds() == ["backend_healthy"] * 3 + ["plan_created"]
    assert events.events[-1] == ("plan_created", "plan-000001", None, {
        "generation": 1, "reason": "tick",
        "targets": ["backend-1=10.0.0.1/w10", "backend-2=10.0.0.2/w10", "backend-3=10.0.0.3/w10"]})


async def test_nothing_new_before_the_tick_then_a_plan_on_the_tick(
        planner: Planner, store: PlanStore, events: Recorder, clock: Clock) -> None:
    await planner.round(ALL_UP)
    events.take()
    clock.now_s += TICK_MS / 1000 - 0.001
    assert await planner.round(ALL_UP) is None
    assert events.take() == []
    clock.now_s += 0.001
    ticked = await planner.round(ALL_UP)
    assert ticked is not None and (ticked.generation, ticked.reason) == (2, "tick")
    assert await store.newest() == ticked
    assert events.take() == ["plan_created"]


@pytest.mark.parametrize("change", [
    [up("backend-1", "10.0.0.1"), down("backend-2", "10.0.0.2"), up("backend-3", "10.0.0.3")],
    [up("backend-1", "10.0.0.1"), up("backend-2", "10.0.0.2", capacity=3), up("backend-3", "10.0.0.3")],
    [up("backend-1", "10.0.0.1"), up("backend-2", "10.0.0.9"), up("backend-3", "10.0.0.3")],
], ids=["unhealthy", "weight", "address"])
async def test_a_change_of_health_weight_or_address_publishes_at_once(
        planner: Planner, store: PlanStore, change: list[Observation]) -> None:
    await planner.round(ALL_UP)
    changed = await planner.round(change)  # the clock has not moved: only the change can publish
    assert changed is not None and (changed.generation, changed.reason) == (2, "health changed")
    assert changed.targets == tuple(as_targets(change)) and await store.newest() == changed


async def test_an_unhealthy_backend_is_never_a_target(planner: Planner) -> None:
    published = await planner.round([up("backend-1", "10.0.0.1"), down("backend-2", "10.0.0.2")])
    assert addresses(published) == ["10.0.0.1"]


async def test_with_no_healthy_backend_no_plan_is_ever_published_and_it_is_said_once(
        planner: Planner, store: PlanStore, events: Recorder, clock: Clock, redis_client: aioredis.Redis) -> None:
    first = await planner.round(ALL_UP)
    events.take()
    for _ in range(4):  # rounds and ticks pass: the previous plan stays the newest
        assert await planner.round(ALL_DOWN) is None
        clock.now_s += TICK_MS / 1000
    assert await store.newest() == first
    assert int(await redis_client.get(PLANS_GENERATION)) == 1
    kinds = events.take()
    assert kinds.count("plan_withheld") == 1 and "plan_created" not in kinds
    healed = await planner.round(ALL_UP)
    assert healed is not None and (healed.generation, healed.reason) == (2, "health changed")
    assert addresses(healed) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


async def test_a_planner_that_starts_with_nothing_healthy_publishes_nothing(
        planner: Planner, store: PlanStore, events: Recorder) -> None:
    assert await planner.round(ALL_DOWN) is None
    assert await planner.round(ALL_DOWN) is None
    assert await store.newest() is None
    assert events.kinds() == ["backend_unhealthy"] * 3 + ["plan_withheld"]


async def test_health_events_are_emitted_on_changes_only(planner: Planner, events: Recorder, clock: Clock) -> None:
    await planner.round(ALL_UP)
    events.take()
    clock.now_s += TICK_MS / 1000
    await planner.round(ALL_UP)
    assert events.take() == ["plan_created"]
    await planner.round([down("backend-1", "10.0.0.1"), *ALL_UP[1:]])
    assert [(k, d.get("backend"), d.get("why")) for k, _, _, d in events.events] == [
        ("backend_unhealthy", "backend-1", "HTTP 503"), ("plan_created", None, None)]


async def test_a_redis_that_never_answers_costs_one_round_not_the_planner(
        silent_port: int, events: Recorder, clock: Clock, store: PlanStore) -> None:
    silent = aioredis.from_url(f"redis://127.0.0.1:{silent_port}/0")
    try:
        planner = Planner(PlanStore(silent, zone=ZONE, timeout_s=0.2), events, (EP,), TICK_MS,  # type: ignore[arg-type]
                          clock=clock)
        assert await planner.round(ALL_UP) is None
        assert events.kinds()[-1] == "plan_not_published"
        assert planner.published is None  # so the next round tries again
    finally:
        await silent.close()
    planner.store = store
    assert (await planner.round(ALL_UP)) == await store.newest()


def test_two_names_on_one_address_are_one_target() -> None:
    assert as_targets([up("backend-1", "10.0.0.1"), up("backend-1b", "10.0.0.1"), down("backend-2", "10.0.0.2")]) == [
        Target("backend-1", "10.0.0.1", 10)]
