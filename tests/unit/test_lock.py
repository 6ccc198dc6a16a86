"""dnsrace.lock.EndpointLock against a real redis-server (conftest.py): the scripts are the lock.

Expiry is made to happen by deleting the key, which is what Redis does when the TTL runs out; no test
waits for a clock.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from dnsrace.lock import EndpointLock, Lease, LockRefused

EP = "dynamodb.us-east-1.lab.test"
EP6 = "dynamodb-dualstack.us-east-1.lab.test"
LOCK_KEY = f"dnsrace:lock:{EP}"
TTL_MS = 5_000


def lock(redis: aioredis.Redis, holder: str, endpoint: str = EP, *, timeout_s: float = 5.0) -> EndpointLock:
    return EndpointLock(redis, endpoint, holder=holder, ttl_ms=TTL_MS, timeout_s=timeout_s)


async def expire(redis: aioredis.Redis, endpoint: str = EP) -> None:
    """What the TTL does to a slow holder: the key is gone, and nobody tells the holder."""
    assert await redis.delete(f"dnsrace:lock:{endpoint}") == 1


async def test_the_first_caller_gets_the_lock_with_token_1_and_an_expiry(redis_client: aioredis.Redis) -> None:
    lease = await lock(redis_client, "enactor-a").try_acquire()
    assert lease == Lease("enactor-a", 1)
    assert await redis_client.get(LOCK_KEY) == b"enactor-a:1"
    assert 0 < await redis_client.pttl(LOCK_KEY) <= TTL_MS  # a holder that dies cannot hold it forever


async def test_a_held_lock_is_refused_to_everyone_else_naming_the_holder(redis_client: aioredis.Redis) -> None:
    first = await lock(redis_client, "enactor-a").try_acquire()
    assert isinstance(first, Lease)
    assert await lock(redis_client, "enactor-b").try_acquire() == LockRefused("enactor-a:1")
    assert await lock(redis_client, "enactor-c").try_acquire() == LockRefused("enactor-a:1")
    # Not re-entrant either: the same holder's second try is refused, so a pass cannot overlap itself.
    assert await lock(redis_client, "enactor-a").try_acquire() == LockRefused("enactor-a:1")
    assert await redis_client.get(LOCK_KEY) == b"enactor-a:1"


async def test_tokens_only_grow_across_tenures_and_a_refusal_takes_none(redis_client: aioredis.Redis) -> None:
    a, b = lock(redis_client, "enactor-a"), lock(redis_client, "enactor-b")
    first = await a.try_acquire()
    assert isinstance(await b.try_acquire(), LockRefused)
    assert isinstance(first, Lease) and await a.release(first)
    second = await b.try_acquire()
    assert isinstance(second, Lease) and await b.release(second)
    third = await a.try_acquire()
    assert [lease.token for lease in (first, second, third) if isinstance(lease, Lease)] == [1, 2, 3]


async def test_release_by_the_holder_frees_the_lock(redis_client: aioredis.Redis) -> None:
    a = lock(redis_client, "enactor-a")
    lease = await a.try_acquire()
    assert isinstance(lease, Lease)
    assert await a.release(lease) is True
    assert await redis_client.exists(LOCK_KEY) == 0
    assert await lock(redis_client, "enactor-b").try_acquire() == Lease("enactor-b", 2)


async def test_a_holder_whose_lock_expired_and_was_taken_cannot_release_the_new_holders(
        redis_client: aioredis.Redis) -> None:
    a, b = lock(redis_client, "enactor-a"), lock(redis_client, "enactor-b")
    stale = await a.try_acquire()
    await expire(redis_client)
    current = await b.try_acquire()
    assert (stale, current) == (Lease("enactor-a", 1), Lease("enactor-b", 2))
    assert await a.release(stale) is False  # told only now, and nothing of b's is touched
    assert await redis_client.get(LOCK_KEY) == b"enactor-b:2"
    assert await lock(redis_client, "enactor-c").try_acquire() == LockRefused("enactor-b:2")
    assert await b.release(current) is True


async def test_the_same_holder_cannot_release_its_own_newer_tenure_with_an_old_lease(
        redis_client: aioredis.Redis) -> None:
    a = lock(redis_client, "enactor-a")
    old = await a.try_acquire()
    await expire(redis_client)
    new = await a.try_acquire()
    assert isinstance(old, Lease) and isinstance(new, Lease)
    assert await a.release(old) is False
    assert await redis_client.get(LOCK_KEY) == b"enactor-a:2"
    assert await a.release(new) is True


async def test_release_after_expiry_with_nobody_else_is_false(redis_client: aioredis.Redis) -> None:
    a = lock(redis_client, "enactor-a")
    lease = await a.try_acquire()
    await expire(redis_client)
    assert isinstance(lease, Lease) and await a.release(lease) is False


async def test_each_endpoint_has_its_own_lock_and_fence(redis_client: aioredis.Redis) -> None:
    assert await lock(redis_client, "enactor-a", EP).try_acquire() == Lease("enactor-a", 1)
    assert await lock(redis_client, "enactor-b", EP6).try_acquire() == Lease("enactor-b", 1)


async def test_a_redis_that_never_answers_is_a_timeout_not_a_hang(silent_port: int) -> None:
    client = aioredis.from_url(f"redis://127.0.0.1:{silent_port}/0")  # no timeouts of its own
    try:
        silent = lock(client, "enactor-a", timeout_s=0.2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(silent.try_acquire(), timeout=30)  # the outer bound only guards the test
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(silent.release(Lease("enactor-a", 1)), timeout=30)
    finally:
        await client.close()
