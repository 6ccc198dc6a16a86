"""The lab's runs and Ctrl-C (dnsrace_lab.stack.signals.cancelled_by_sigterm, interrupted()): a signal cancels the
run so its `finally` heals, and only a signal makes a run "interrupted" — a timeout swallowed inside a
library does not (every run of reproduce-rate once said "interrupted; healed every fault" for that)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from dnsrace_lab.stack import signals


@pytest.fixture(autouse=True)
def clean() -> None:
    signals._signalled.clear()


def test_a_timeout_swallowed_inside_the_run_is_not_an_interruption() -> None:
    async def run() -> int:
        # What redis-py's own async_timeout does when a blocking read times out: it cancels the current
        # task and swallows the CancelledError, without uncancel(): task.cancelling() stays at 1.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().call_soon(task.cancel)
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            pass
        assert task.cancelling() == 1
        return 0 if not signals.interrupted() else 99

    assert asyncio.run(signals.cancelled_by_sigterm(run())) == 0


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_the_run_its_finally_runs_and_it_is_interrupted(signum: int) -> None:
    healed = []

    async def run() -> int:
        try:
            asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signum)
            await asyncio.sleep(5)
            return 0
        finally:
            healed.append(signals.interrupted())

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)   # as a shell leaves a background job
    try:
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(signals.cancelled_by_sigterm(run()))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert healed == [True] and signals._signalled == [signum]
