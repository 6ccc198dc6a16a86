"""The race scenario's first step (scenarios._slow_enactor_refused), on scripted event streams.

The nemesis makes the lock contention: the first fast holder of a new plan's lock is slowed on its
dns-admin path for that tenure. If the tenure ends before enactor-a contends (the holder may finish
before the toxic is even in place: the nemesis reacts, it does not stop the clock), the slowdown must
move to the next plan's first fast holder. Waiting on with a slowed enactor that no longer holds
anything lost a run under load: enactor-a then took every lock itself and was never refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from dnsrace.events import Event
from dnsrace_lab.outage.scenarios import Report, _slow_enactor_refused
from dnsrace_lab.stack.live import StepNotReached


@dataclass
class ScriptedLive:
    """wait_event as the real one: every call reads the stream again from `since`."""

    events: list[Event]

    async def wait_event(self, since: str, what: str, match: Any, *, within_s: float) -> Event:
        for event in self.events:
            if match(event):
                return event
        raise StepNotReached(what, f"no such event within {within_s:.0f} s")


@dataclass
class RecordingNemesis:
    calls: list[tuple[str, ...]] = field(default_factory=list)

    async def slow(self, enactor: str) -> None:
        self.calls.append(("slow", enactor))

    async def unslow(self, enactor: str) -> None:
        self.calls.append(("unslow", enactor))

    async def hold(self, enactor: str, path: str) -> None:
        self.calls.append(("hold", enactor, path))


def ev(t: float, service: str, kind: str, plan: str, **detail: Any) -> Event:
    return Event(t, service, kind, plan, None, detail)


async def run(events: list[Event]) -> tuple[Event, RecordingNemesis]:
    nemesis = RecordingNemesis()
    event = await _slow_enactor_refused(ScriptedLive(events), nemesis, Report("race", "legacy", 5), "0-0")  # type: ignore[arg-type]
    return event, nemesis


async def test_the_first_fast_holder_is_slowed_and_enactor_a_refused_meanwhile_is_held() -> None:
    event, nemesis = await run([
        ev(1.0, "enactor-b", "lock_acquired", "plan-000003"),
        ev(1.5, "enactor-a", "lock_refused", "plan-000003", held_by="enactor-b"),
        ev(3.0, "enactor-b", "lock_released", "plan-000003"),
    ])
    assert event.kind == "lock_refused" and event.plan == "plan-000003"
    assert nemesis.calls == [("slow", "enactor-b"), ("hold", "enactor-a", "dns-admin"), ("unslow", "enactor-b")]


async def test_a_tenure_that_ends_before_enactor_a_contends_moves_the_slowdown_to_the_next_fast_holder() -> None:
    # The run that was lost: enactor-b finished plan-000003 20 ms after taking its lock, before the
    # toxic landed; enactor-a then took plan-000004's lock itself; enactor-c was first for plan-000005.
    event, nemesis = await run([
        ev(2.19, "enactor-b", "lock_acquired", "plan-000003"),
        ev(2.21, "enactor-b", "lock_released", "plan-000003"),
        ev(4.27, "enactor-a", "lock_acquired", "plan-000004"),
        ev(4.29, "enactor-a", "lock_released", "plan-000004"),
        ev(6.30, "enactor-c", "lock_acquired", "plan-000005"),
        ev(6.80, "enactor-a", "lock_refused", "plan-000005", held_by="enactor-c"),
    ])
    assert event.plan == "plan-000005"
    assert nemesis.calls == [("slow", "enactor-b"), ("unslow", "enactor-b"), ("slow", "enactor-c"),
                             ("hold", "enactor-a", "dns-admin"), ("unslow", "enactor-c")]


async def test_a_later_taker_of_the_same_plans_lock_is_not_slowed() -> None:
    with pytest.raises(StepNotReached):
        await run([
            ev(1.0, "enactor-a", "lock_acquired", "plan-000003"),
            ev(1.1, "enactor-a", "lock_released", "plan-000003"),
            ev(1.2, "enactor-b", "lock_acquired", "plan-000003"),
        ])
