"""The endpoint lock: Redis SET-with-expiry, plus a fencing token from a counter that only grows.

As in the incident, the lock has a holder and an expiry; a holder that is slowed past the expiry is
never told. The token is taken in the same script as the lock, so "token 42" names exactly one
tenure, and every event of that tenure carries it. Neither mode sends it to dns-admin: legacy never
checks anything at the write, and safe does not need to, because its write is a compare-and-swap on
the very value it checked (Route 53's exact-match DELETE). A fencing token is what a store without
compare-and-swap needs; with it, the lock is only an efficiency (fewer refused writes), not safety.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from .deadline import within
from .keys import fence_key, lock_key

__all__ = ["Lease", "LockRefused", "EndpointLock"]

_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder then return {0, holder} end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return {token, ''}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    holder: str
    token: int

    @property
    def value(self) -> str:
        return f"{self.holder}:{self.token}"


@dataclass(frozen=True)
class LockRefused:
    held_by: str


class EndpointLock:
    def __init__(self, redis: aioredis.Redis[bytes], endpoint: str, *, holder: str, ttl_ms: int,
                 timeout_s: float) -> None:
        self._redis = redis
        self._keys = [lock_key(endpoint), fence_key(endpoint)]
        self._holder = holder
        self._ttl_ms = ttl_ms
        self._timeout_s = timeout_s
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)

    async def try_acquire(self) -> Lease | LockRefused:
        token, held_by = await within(self._timeout_s, self._acquire(keys=self._keys, args=[self._holder, self._ttl_ms]))
        if int(token) == 0:
            return LockRefused(held_by.decode() if isinstance(held_by, bytes) else str(held_by))
        return Lease(self._holder, int(token))

    async def release(self, lease: Lease) -> bool:
        """True if we still held it; False if it had expired (and perhaps been taken by another)."""
        return bool(await within(self._timeout_s, self._release(keys=self._keys[:1], args=[lease.value])))
