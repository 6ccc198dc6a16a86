"""A deadline on one call to Redis: `await within(timeout_s, redis_call)`, TimeoutError past it.

Not `async with asyncio.timeout(...)`: when that deadline expires inside a redis-py 4.3 call, the
client's clean-up on the way out (a disconnect under its own async_timeout) leaves the task with a
cancellation asyncio.timeout did not make, and asyncio.timeout then lets CancelledError escape instead
of raising TimeoutError. No `except Exception` catches CancelledError: an enactor whose Redis stalled
would die without a word, in safe mode too (tests/unit/test_lock.py shows the timeout). `wait_for` runs
the call in a task of its own, so whatever the client does to that task, the caller gets TimeoutError.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["within"]

T = TypeVar("T")


async def within(timeout_s: float, call: Awaitable[T]) -> T:
    return await asyncio.wait_for(call, timeout_s)
