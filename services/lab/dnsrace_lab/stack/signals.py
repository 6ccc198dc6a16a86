"""Ctrl-C and SIGTERM for the lab's runs (reproduce-outage, the chaos campaign): a signal cancels the
run, so its `finally` heals every fault it placed, and is remembered, so the run's exit says so.

    cancelled_by_sigterm(main)   run `main` with SIGINT and SIGTERM cancelling it
    interrupted()                did a signal interrupt this run?
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

__all__ = ["cancelled_by_sigterm", "interrupted"]

_signalled: list[int] = []    # the signals that interrupted this run (Ctrl-C, SIGTERM), in order


def interrupted() -> bool:
    """Was this run interrupted by a signal? (Not `task.cancelling()`: a timeout that fires inside a
    library which swallows the cancellation leaves that count raised with nobody interrupting.)"""
    return bool(_signalled)


async def cancelled_by_sigterm(main: Coroutine[Any, Any, int]) -> int:
    """Ctrl-C and SIGTERM cancel the run, so its `finally` heals, and are remembered (interrupted()).

    Installed whatever the process inherited: a run started from a script or a CI job, where the shell
    left SIGINT ignored, is still interrupted by a SIGINT sent to it."""
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("signal handling is installed from inside the run's task")
    running: asyncio.Task[Any] = task

    def stop(signum: int) -> None:
        _signalled.append(signum)
        running.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    return await main
