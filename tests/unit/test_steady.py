"""dnsrace_ec2.steady.at_rate: every outcome is counted, a slow one in the second it ends."""

from __future__ import annotations

import asyncio
from collections import Counter

from dnsrace_ec2.steady import at_rate


async def test_a_slow_outcome_is_counted_in_the_window_current_when_it_ends(tmp_path) -> None:  # noqa: ANN001
    stop = asyncio.Event()
    started = 0
    windows: list[Counter[str]] = []

    async def one() -> str:
        nonlocal started
        started += 1
        if started == 1:
            await asyncio.sleep(1.3)        # ends after the first window was handed off
            return "slow"
        return "fast"

    async def each_second(window: Counter[str]) -> None:
        windows.append(window)
        if len(windows) == 3:
            stop.set()

    await asyncio.wait_for(at_rate(stop, 10, str(tmp_path / "alive"), one, each_second), timeout=10)
    total = sum(windows, Counter())
    assert total["slow"] == 1 and "slow" not in windows[0]
    assert total["fast"] >= 15
