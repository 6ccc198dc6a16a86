"""Plans in Redis: `dnsrace:plan:<generation>` (JSON), `dnsrace:plans:latest`, a generation counter."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import redis.asyncio as aioredis

from .deadline import within
from .keys import PLANS_GENERATION as _GENERATION
from .keys import PLANS_LATEST as _LATEST
from .keys import plan_key as _plan_key
from .plans import MalformedPlan, Plan, Target

__all__ = ["PlanStore"]

PLANS_KEPT = 1_000


class PlanStore:
    """Plans of one zone. Both directions go through Plan.from_json: a plan that would be refused when
    read is refused when published (MalformedPlan, before a generation is taken)."""

    def __init__(self, redis: aioredis.Redis[bytes], *, zone: str, timeout_s: float) -> None:
        self._redis = redis
        self._zone = zone
        self._timeout_s = timeout_s

    async def publish(self, endpoints: Sequence[str], targets: Sequence[Target], reason: str) -> Plan:
        draft = Plan.from_json(Plan(1, tuple(endpoints), tuple(targets), time.time(), reason).to_json(),
                               zone=self._zone)
        return await within(self._timeout_s, self._publish(draft))

    async def _publish(self, draft: Plan) -> Plan:
        generation = int(await self._redis.incr(_GENERATION))
        plan = replace(draft, generation=generation)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(_plan_key(generation), plan.dumps())
            pipe.set(_LATEST, generation)
            if generation > PLANS_KEPT:
                pipe.delete(_plan_key(generation - PLANS_KEPT))
            await pipe.execute()
        return plan

    async def newest(self) -> Plan | None:
        """The newest plan, or None before the first; MalformedPlan if what is stored is not a plan."""
        found = await within(self._timeout_s, self._read_newest())
        if found is None:
            return None
        generation, text = found
        if text is None:
            raise MalformedPlan(f"{_LATEST} names generation {generation}, which is not stored")
        return Plan.loads(text, zone=self._zone)

    async def _read_newest(self) -> tuple[int, bytes | None] | None:
        latest = await self._redis.get(_LATEST)
        if latest is None:
            return None
        try:
            generation = int(latest)
        except ValueError:
            raise MalformedPlan(f"{_LATEST} holds {latest!r}, not a generation") from None
        return generation, await self._redis.get(_plan_key(generation))

    async def get(self, generation: int) -> Plan | None:
        text = await within(self._timeout_s, self._redis.get(_plan_key(generation)))
        return None if text is None else Plan.loads(text, zone=self._zone)
