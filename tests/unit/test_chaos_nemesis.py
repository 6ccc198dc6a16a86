"""The nemesis's pairs, with fake edges: every fault it starts is stopped, whatever ends the block, and
each start and stop is a row of the history; a fault that cannot start is a row too, never a crash."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from dnsrace_lab.chaos.generator import FaultSpec
from dnsrace_lab.harness.nemesis import Nemesis


@dataclass
class FakeProxy:
    toxics: tuple[Any, ...] = ()


@dataclass
class FakeToxiproxy:
    calls: list[tuple[str, ...]] = field(default_factory=list)
    toxics: dict[str, set[str]] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)

    async def add_toxic(self, proxy: str, *, name: str, type: str, stream: str = "downstream", **attributes: Any) -> None:
        self.calls.append(("add", proxy, name, type, stream))
        self.toxics.setdefault(proxy, set()).add(name)

    async def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove", proxy, name))
        self.toxics[proxy].remove(name)

    async def proxy(self, name: str) -> FakeProxy:
        return FakeProxy(tuple(type("T", (), {"name": n}) for n in self.toxics.get(name, ())))

    async def disable(self, name: str) -> None:
        self.disabled.add(name)

    async def enable(self, name: str) -> None:
        self.disabled.discard(name)

    async def reset(self) -> None:
        self.toxics.clear()
        self.disabled.clear()


class FakeEvents:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, kind: str, **detail: Any) -> None:
        self.emitted.append((kind, detail))


def nemesis(docker_fails: bool = False) -> tuple[Nemesis, FakeToxiproxy, list[dict[str, Any]], list[list[str]]]:
    toxiproxy, rows, docker_calls = FakeToxiproxy(), [], []
    subject = Nemesis(toxiproxy, FakeEvents(), containers={"enactor-a": "id-a", "redis": "id-r",  # type: ignore[arg-type]
                                                           "dns-admin": "id-d"}, history=rows)

    async def docker(verb: str, service: str, *options: str, timeout_s: float = 0.0) -> None:
        docker_calls.append([verb, *options, service])
        if docker_fails and verb != "start":
            raise RuntimeError(f"docker {verb}: Container is restarting")
    subject._docker = docker  # type: ignore[method-assign]
    return subject, toxiproxy, rows, docker_calls


async def test_a_toxic_is_removed_when_the_block_is_cancelled() -> None:
    subject, toxiproxy, rows, _ = nemesis()
    spec = FaultSpec(3, "latency", "enactor-a", 0.0, 60.0,
                     {"path": "redis", "latency_ms": 500, "jitter_ms": 100, "stream": "upstream"})

    async def hold_it() -> None:
        async with subject.fault(spec):
            await asyncio.sleep(60)

    task = asyncio.create_task(hold_it())
    await asyncio.sleep(0.05)
    assert toxiproxy.toxics == {"enactor-a-redis": {"chaos-3-latency"}}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert toxiproxy.toxics == {"enactor-a-redis": set()}
    assert [(r["type"], r["fault"], r["id"]) for r in rows] == [("fault_started", "latency", 3), ("fault_stopped", "latency", 3)]


@pytest.mark.parametrize("fault", ["kill-enactor", "pause", "partition"])
async def test_process_and_partition_faults_are_undone_when_the_block_raises(fault: str) -> None:
    subject, toxiproxy, rows, docker_calls = nemesis()
    with pytest.raises(ZeroDivisionError):
        async with subject.fault(FaultSpec(1, fault, "enactor-a", 0.0, 1.0)):
            1 / 0
    undo = {"kill-enactor": ["start", "enactor-a"], "pause": ["unpause", "enactor-a"]}
    if fault in undo:
        assert docker_calls[-1] == undo[fault]
    assert not toxiproxy.disabled
    assert [r["type"] for r in rows] == ["fault_started", "fault_stopped"]


async def test_a_fault_that_cannot_start_is_a_row_and_the_run_goes_on() -> None:
    subject, _, rows, docker_calls = nemesis(docker_fails=True)
    async with subject.fault(FaultSpec(2, "pause", "enactor-a", 0.0, 1.0)) as started:
        assert started is False
    assert [r["type"] for r in rows] == ["fault_failed"]
    assert "Container is restarting" in rows[0]["why"]
    assert docker_calls == [["pause", "enactor-a"]]      # nothing to unpause


async def test_heal_starts_what_was_killed_and_unpauses_what_was_paused() -> None:
    subject, toxiproxy, rows, docker_calls = nemesis()
    await subject.kill("redis", "kill-redis")
    await subject.pause("enactor-a")
    await toxiproxy.add_toxic("enactor-a-dns-admin", name="left", type="latency")
    await subject.heal()
    assert ["unpause", "enactor-a"] in docker_calls and ["start", "redis"] in docker_calls
    assert toxiproxy.toxics == {} and rows[-1]["fault"] == "all"


async def test_a_pause_while_locked_waits_for_a_check_slows_the_path_until_the_lock_then_unslows_it() -> None:
    from dnsrace.events import Event
    subject, toxiproxy, rows, docker_calls = nemesis()
    seen: list[dict[str, set[str]]] = []

    async def wait_event(match: Any, within_s: float) -> Event | None:
        seen.append({k: set(v) for k, v in toxiproxy.toxics.items()})
        for kind in ("check_passed", "lock_acquired"):
            event = Event(1.0, "enactor-a", kind, "plan-000007", 42 if kind == "lock_acquired" else None)
            if match(event):
                return event
        return None
    subject._wait_event = wait_event
    async with subject.fault(FaultSpec(4, "pause", "enactor-a", 0.0, 7.0, {"while_locked": True})):
        assert docker_calls == [["pause", "enactor-a"]]
    # Not slowed while waiting for the check (a slow check would never win a plan), slowed after it.
    assert seen == [{}, {"enactor-a-dns-admin": {"chaos-4-lock-slow"}}]
    assert toxiproxy.toxics == {"enactor-a-dns-admin": set()}             # and not after the pause
    assert rows[0]["while_locked"] is True and rows[0]["lock_plan"] == "plan-000007"
    assert docker_calls[-1] == ["unpause", "enactor-a"]


async def test_a_pause_while_locked_that_never_sees_the_lock_pauses_anyway_and_says_so() -> None:
    subject, toxiproxy, rows, docker_calls = nemesis()

    async def never(match: Any, within_s: float) -> None:
        return None
    subject._wait_event = never
    async with subject.fault(FaultSpec(5, "pause", "enactor-a", 0.0, 7.0, {"while_locked": True})):
        pass
    assert rows[0]["while_locked"] is False and toxiproxy.toxics == {}
    assert docker_calls == [["pause", "enactor-a"], ["unpause", "enactor-a"]]


async def test_the_scenarios_pairs_emit_what_they_always_did_and_keep_no_history_unless_asked() -> None:
    toxiproxy, events = FakeToxiproxy(), FakeEvents()
    subject = Nemesis(toxiproxy, events, containers={"enactor-a": "id-a"})  # type: ignore[arg-type]

    async def docker(verb: str, service: str, *options: str, timeout_s: float = 0.0) -> None:
        return None
    subject._docker = docker  # type: ignore[method-assign]
    await subject.hold("enactor-a", "dns-admin")
    await subject.release("enactor-a", "dns-admin")
    await subject.pause("enactor-a")
    await subject.heal()
    assert [(kind, sorted(detail)) for kind, detail in events.emitted] == [
        ("fault_started", ["fault", "proxy", "target", "why"]), ("fault_stopped", ["fault", "proxy", "target", "why"]),
        ("fault_started", ["fault", "proxy", "target", "why"]), ("fault_stopped", ["fault", "why"])]
    assert events.emitted[0][1]["fault"] == "hold-dns-admin" and subject._history is None


async def test_the_storage_cut_disables_dynamodbs_proxy_and_restores_it_whatever_ends_the_block() -> None:
    subject, toxiproxy, rows, _ = nemesis()
    spec = FaultSpec(4, "partition-dynamodb", "dynamodb", 0.0, 60.0)

    async def hold_it() -> None:
        async with subject.fault(spec):
            await asyncio.sleep(60)

    task = asyncio.create_task(hold_it())
    await asyncio.sleep(0.05)
    assert toxiproxy.disabled == {"dynamodb"}
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not toxiproxy.disabled
    assert [(r["type"], r["fault"], r["target"], r["id"]) for r in rows] == [
        ("fault_started", "partition-dynamodb", "dynamodb", 4), ("fault_stopped", "partition-dynamodb", "dynamodb", 4)]


async def test_a_propagation_storm_posts_by_the_clock_and_stops_with_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each second's droplets posted to Network Manager from inside its container, numbered on from the
    last; a slow post does not lower the rate (what is owed is posted next); the stop row says how many."""
    import json as json_
    import dnsrace_lab.harness.nemesis as nemesis_module
    monkeypatch.setattr(nemesis_module, "STORM_EVERY_S", 0.05)
    subject, _, rows, _ = nemesis()
    posted: list[list[int]] = []

    async def exec_(service: str, *command: str, stdin: str) -> str:
        # Killed inside the container before docker exec gives up here: nothing lands after the stop row.
        assert service == "netmgr" and command[:6] == ("timeout", "-s", "KILL", "10", "python3", "-c")
        assert "/propagations" in command[6] and nemesis_module.STORM_POST_KILL_S < nemesis_module.DOCKER_TIMEOUT_S
        droplets = json_.loads(stdin)["droplets"]
        posted.append(droplets)
        if len(posted) == 2:
            await asyncio.sleep(0.15)      # a slow docker exec: three ticks' worth owed at the next
        return json_.dumps({"queued": len(droplets), "queue": sum(map(len, posted))})
    subject._exec = exec_  # type: ignore[method-assign]
    spec = FaultSpec(4, "propagation-storm", "netmgr", 0.0, 0.5, {"droplets_per_s": 40, "times_rate": 4.0,
                                                                   "propagate_per_s": 10.0})
    async with subject.fault(spec) as started:
        assert started
        await asyncio.sleep(0.5)
    flat = [d for chunk in posted for d in chunk]
    assert flat == list(range(len(flat)))               # numbered on, none twice
    assert posted[0] == list(range(40))                  # the first second's at the start
    # By the clock, whatever the tick: 40 at the start, then 40 a second for about 0.5 s (give or take a tick).
    assert 55 <= len(flat) <= 70, len(flat)
    start, stop = [r for r in rows if r.get("fault") == "propagation-storm"]
    assert (start["type"], start["droplets_per_s"], start["queue"]) == ("fault_started", 40, 40)
    assert (stop["type"], stop["posted"]) == ("fault_stopped", len(flat)) and "storm_failed" not in stop
    await asyncio.sleep(0.2)
    assert sum(map(len, posted)) == len(flat)            # nothing posted after the stop


async def test_a_storm_whose_first_post_fails_never_started_and_one_failing_later_says_so() -> None:
    subject, _, rows, _ = nemesis()

    async def refused(service: str, *command: str, stdin: str) -> str:
        raise RuntimeError("python3 in netmgr: Connection refused")
    subject._exec = refused  # type: ignore[method-assign]
    spec = FaultSpec(5, "propagation-storm", "netmgr", 0.0, 0.1, {"droplets_per_s": 40})
    async with subject.fault(spec) as started:
        assert not started
    assert [r["type"] for r in rows] == ["fault_failed"] and "Connection refused" in rows[0]["why"]
    rows.clear()
    calls = 0

    async def fails_later(service: str, *command: str, stdin: str) -> str:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise RuntimeError("python3 in netmgr: No such container")
        return '{"queued": 40, "queue": 40}'
    subject._exec = fails_later  # type: ignore[method-assign]
    async with subject.fault(spec) as started:
        assert started
        await asyncio.sleep(1.3)
    stop = rows[-1]
    # Every later post failed: each was owed again at the next tick, and the stop row counts them, and
    # their droplets apart (a failed post may have landed: its numbers are never posted again).
    assert stop["type"] == "fault_stopped" and stop["posted"] == 40 and "No such container" in stop["storm_failed"]
    assert stop["failed_posts"] == calls - 1 >= 1 and stop["unconfirmed"] >= 40


async def test_a_post_in_flight_when_the_storm_stops_is_let_finish_and_counted() -> None:
    """A `docker exec` cannot be taken back: the stop waits for it, counts it, and posts nothing after."""
    subject, _, rows, _ = nemesis()
    posted: list[int] = []

    async def slow(service: str, *command: str, stdin: str) -> str:
        droplets = __import__("json").loads(stdin)["droplets"]
        if posted:
            await asyncio.sleep(0.5)            # the second post is still in flight at the stop
        posted.extend(droplets)
        return '{"queue": %d}' % len(posted)
    subject._exec = slow  # type: ignore[method-assign]
    spec = FaultSpec(6, "propagation-storm", "netmgr", 0.0, 1.2, {"droplets_per_s": 10})
    async with subject.fault(spec):
        await asyncio.sleep(1.2)                # the tick at 1.0 s posts; the stop comes at 1.2 s
    stop = rows[-1]
    assert stop["type"] == "fault_stopped" and stop["posted"] == len(posted) == 20 and stop["queue"] == 20
    await asyncio.sleep(1.2)
    assert len(posted) == 20
