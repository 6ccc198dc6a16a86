"""Deadlines and shutdowns that a library cannot confuse: one deadline per call, in a task of its own.

    await within(timeout_s, call)       the call's result; TimeoutError past the deadline
    await sleep_or_stop(stop, delay_s)  wait delay_s, or less if `stop` is set; True if it was
    StrayCancellation                   a CancelledError that no shutdown asked for, as an error

Why not `async with asyncio.timeout(...)` around a library call (the rule every service and the lab
follow; tests/unit/test_deadline.py enforces it over the source tree):

asyncio.timeout (Python 3.11) expires by cancelling *the current task*, and on the way out turns the
CancelledError into TimeoutError only if `task.uncancel()` comes back to 0, that is, only if nobody else
asked to cancel the task. The libraries of Debian bookworm ask and never take it back: redis-py 4.3
wraps every read in async_timeout 4.0.2, which cancels the current task when its deadline passes and
does not `uncancel()` (and the connection pool polls each connection it hands out with a deadline of 0,
which always passes); aiohttp 3.8's own total timeout does the same. One redis-py call in a task leaves
its cancel count at 1 for good. From then on every asyncio.timeout that expires in that task lets the
CancelledError through. In the enactor that was the self-check: a DNS answer slower than its 2 s
deadline ended the process (a CancelledError is a BaseException, so no `except Exception` saw it), and
Docker restarted an enactor nobody had killed (issue 27; enactor-a restarted 12 times in 90 s under a
1.95 s latency toxic on its DNS path).

`within` runs the call in a task of its own, which only this call uses: whatever a library does to that
task's cancel count dies with it, and the caller's count is never touched. The caller gets the call's
result, its exception, or TimeoutError; a CancelledError reaches the caller only if the caller itself
was cancelled (its own shutdown). Unlike `asyncio.wait_for` in 3.11, it never swallows the caller's
own cancellation when the call finishes in the same instant, and it waits a bounded time for the
cancelled call to finish.

The call gets no deadline of its own underneath (dnspython gets `timeout=None`, aiohttp sessions
`NO_CLIENT_DEADLINE`): two deadlines of the same length on one call race each other, and the loser's
cancellation is the one that leaks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["CANCEL_GRACE_S", "StrayCancellation", "sleep_or_stop", "stray_cancellation", "within"]

T = TypeVar("T")

# How long a call cancelled at its deadline may take to unwind (close a socket, say) before the caller
# is answered anyway; the call's task is left cancelled behind it.
CANCEL_GRACE_S = 1.0


class StrayCancellation(Exception):
    """A CancelledError that reached a service's loop while nothing was shutting it down.

    An Exception, not a BaseException, on purpose: it goes to the mode's on_error like any other
    failure (safe retries, legacy dies of it with a crash event), instead of ending the process silently.
    """


async def within(timeout_s: float, call: Awaitable[T], *, cancel_grace_s: float = CANCEL_GRACE_S,
                 undo: Callable[[T], object] | None = None) -> T:
    """The result of `call`, or TimeoutError once `timeout_s` has passed; see the module docstring.

    Past the deadline, or when the caller is cancelled, the call is cancelled and given `cancel_grace_s`
    to unwind before the caller hears of it.
    `undo` is for a call that takes something (a lock): if the call succeeds but nobody receives its
    result (the caller was cancelled, or the deadline had already been answered), undo(result) gives
    it back, so nothing is held by a caller that is gone.
    """
    if timeout_s <= 0:
        if asyncio.iscoroutine(call):
            call.close()   # never started: no "coroutine was never awaited" warning
        raise ValueError(f"a deadline must be positive, not {timeout_s!r}")
    task = asyncio.ensure_future(call)
    try:
        done, _pending = await asyncio.wait({task}, timeout=timeout_s)
    except asyncio.CancelledError:
        # The caller is being cancelled (its own shutdown): the call must not outlive it, and its own
        # clean-up (a `finally` that heals a fault, say) runs before the caller's goes on (bounded).
        _abandon(task, undo)
        await asyncio.wait({task}, timeout=cancel_grace_s)
        raise
    if not done:
        task.cancel()
        # Bounded: a call that ignores its cancellation is abandoned, not waited on forever.
        await asyncio.wait({task}, timeout=cancel_grace_s)
        if task.done() and not task.cancelled() and task.exception() is None:
            # It succeeded in the same instant as the deadline (a lock granted, say): that is the truth.
            return task.result()
        if not task.done():
            _abandon(task, undo)
            raise TimeoutError(f"no answer within {timeout_s:g} s")
        # An error raised while it unwound from our cancellation (aiohttp says ServerDisconnectedError)
        # is the deadline's doing: the caller is told it timed out, with that error as the cause.
        cause = None if task.cancelled() else task.exception()
        raise TimeoutError(f"no answer within {timeout_s:g} s") from cause
    if task.cancelled():
        # Nobody here cancelled it: a library inside ended its own task with a CancelledError (a
        # deadline of its own that it did not turn into TimeoutError). For the caller it is no answer.
        raise TimeoutError(f"the call ended cancelled by a library inside it, within {timeout_s:g} s")
    return task.result()


def _abandon(task: asyncio.Future[T], undo: Callable[[T], object] | None) -> None:
    """Nobody will receive the call's outcome: cancel it, and give back what it took if it succeeds."""
    def settle(done: asyncio.Future[T]) -> None:
        if done.cancelled():
            return
        # An abandoned call that fails must not log "exception was never retrieved".
        if done.exception() is None and undo is not None:
            undo(done.result())

    task.cancel()
    task.add_done_callback(settle)


async def sleep_or_stop(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait `delay_s`, or until `stop` is set, whichever comes first; True if `stop` is set."""
    if stop.is_set():
        return True
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter}, timeout=max(0.0, delay_s))
    finally:
        waiter.cancel()
    return stop.is_set()


def stray_cancellation(where: str) -> StrayCancellation:
    """A CancelledError caught in a service's loop while it was not stopping: withdraw every cancel
    request the task has (none of them was a shutdown's) and return it as an error to be handled."""
    task = asyncio.current_task()
    withdrawn = 0
    if task is not None:
        while task.cancelling() > 0 and withdrawn < 1_000:
            task.uncancel()
            withdrawn += 1
    return StrayCancellation(f"CancelledError in {where} with no shutdown under way "
                             f"({withdrawn} cancel request(s) withdrawn)")
