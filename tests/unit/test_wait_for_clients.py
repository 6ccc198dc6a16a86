"""recording.wait_for_clients: how long a cascade run records after its faults, for (9) to be decided.
A fake Live answers the newest per-second lines; the clock is real, the bound a few seconds."""

from __future__ import annotations

import time
from typing import Any

import pytest

import dnsrace_lab.harness.recording as recording
from dnsrace_lab.harness.checker import Bounds

CALM = {"netmgr_window": {"head_age_s": 0.0, "without_network": 0},
        "nlb_window": {"in_service": 12, "targets": 12},
        "client_window": {"success_rate": 1.0}}


class FakeLive:
    def __init__(self, lines: dict[str, dict[str, Any]], *, age_s: float = 0.0) -> None:
        self.lines, self.age_s = lines, age_s

    async def latest_figures(self, kind: str) -> dict[str, Any] | None:
        return {**self.lines[kind], "t": time.time() - self.age_s}


@pytest.fixture(autouse=True)
def short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recording, "SERVED_FOR_S", 0.5)     # calm for 2.5 s ends the wait
    monkeypatch.setattr(recording, "RECOVERY_TAIL_S", 0.0)


async def waited(live: FakeLive, bound_s: float) -> float:
    started = time.time()
    await recording.wait_for_clients(live, Bounds(client_recovery_bound_s=bound_s), since=started)  # type: ignore[arg-type]
    return time.time() - started


async def test_a_calm_network_ends_the_wait_before_the_bound() -> None:
    assert 2.0 <= await waited(FakeLive(CALM), bound_s=30.0) < 5.0


async def test_a_backlog_still_queued_or_a_dark_slot_is_not_calm_the_wait_runs_to_the_bound() -> None:
    backlog = {**CALM, "netmgr_window": {"head_age_s": 40.0, "without_network": 0}}
    assert 3.0 + 0.5 + 2.0 - 0.1 <= await waited(FakeLive(backlog), bound_s=3.0)
    dark = {**CALM, "netmgr_window": {"head_age_s": 0.0, "without_network": 1}}
    assert 5.4 <= await waited(FakeLive(dark), bound_s=3.0)


async def test_stale_figures_are_not_calm() -> None:
    assert 5.4 <= await waited(FakeLive(CALM, age_s=recording.FRESH_S + 1), bound_s=3.0)


async def test_clients_failing_past_the_bound_end_the_wait_as_decided() -> None:
    failing = {**CALM, "client_window": {"success_rate": 0.4}}
    assert 1.0 <= await waited(FakeLive(failing), bound_s=1.0) < 3.0


async def test_a_second_without_a_request_is_neither_served_nor_broken() -> None:
    idle = {**CALM, "client_window": {"success_rate": None}}
    assert 3.4 <= await waited(FakeLive(idle), bound_s=1.0)


async def test_no_bound_no_wait() -> None:
    started = time.time()
    await recording.wait_for_clients(FakeLive(CALM), Bounds(), since=started)  # type: ignore[arg-type]
    assert time.time() - started < 0.1
