"""Faults: on one enactor's network paths through Toxiproxy, on processes through docker, and an
operator's mistake through dns-admin's API. The nemesis only injects; it judges nothing.

Faults come in named pairs, and each start and stop is an event in the history (service `lab`, and,
when the nemesis is given a `history` list, a row there too, which does not depend on Redis being up):
    hold(enactor, path) / release(enactor, path)   the enactor's requests on `path` ("dns-admin" or
                                                   "redis") wait inside Toxiproxy (a latency toxic far
                                                   longer than the wait); removing it lets them through
    slow(enactor)       / unslow(enactor)          the enactor's requests to dns-admin each take SLOW_MS
                                                   longer: a slow path, and with it a long lock tenure
    pause(enactor)      / unpause(enactor)         `docker pause`: the process is frozen mid-step, as
                                                   by a stalled VM or a long GC pause
    heal()                                         every toxic removed, every proxy enabled, every
                                                   enactor unpaused, every killed container started
The chaos campaign (chaos/campaign.py) also uses, through `fault(spec)` (one FaultSpec of chaos/generator.py, started
on entry and stopped on exit, whatever ends the block):
    toxic(...)          / untoxic(...)             latency with jitter, `timeout`, `reset_peer` on one proxy
    partition(enactor)  / unpartition(enactor)     every proxy of the enactor disabled, then enabled
    kill(service)       / start(service)           SIGKILL (`docker kill -s KILL`), then `docker start`
    delete_live_plan()                             the live plan's record set deleted through the API
    cut_storage()       / restore_storage()        DynamoDB's storage node cut off (its proxy disabled):
                                                   the lease manager's every operation fails
    storm(spec)         / unstorm(spec)            network state owed for droplets, posted to Network
                                                   Manager (POST /propagations, from inside its container:
                                                   it publishes no port) at droplets_per_s, once a second,
                                                   until the stop; what is queued stays queued
All of it is real traffic through a real proxy, a real frozen or killed process, a real API call;
nothing in the enactor's code is told about it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from dnsrace.deadline import sleep_or_stop
from dnsrace.dns_admin_client import DnsAdminClient
from dnsrace.events import Event, RedisEventSink
from dnsrace.plans import plan_of_record_name
from dnsrace.records import Change, ChangeBatch
from dnsrace.toxiproxy import ToxiproxyClient

from dnsrace_lab.chaos.generator import CASCADE_FAULT, PATHS, STORM_FAULT, FaultSpec
from dnsrace_lab.stack.names import ENDPOINT

HOLD_TOXIC = "nemesis-hold"
SLOW_TOXIC = "nemesis-slow"
SLOW_MS = 1_000
HOLD_LATENCY_MS = 600_000  # far beyond any hold the scenarios use; release() ends it early
ANSWER_HOLD_MS = 3_000     # a mid-batch kill: how long the killed batch's answer waits in the proxy
LOCKED_SLOW_MS = 1_500     # a pause while holding the lock: its dns-admin requests slowed until it is frozen
DOCKER_TIMEOUT_S = 20.0
DOCKER_START_TIMEOUT_S = 60.0  # `docker start` takes seconds here when the two cores are busy
NEMESIS_CLIENT = "nemesis"     # the client name of the nemesis's own change batches (the checker knows it)
STORAGE_PROXY = "dynamodb"     # the DynamoDB front ends' path to the storage node
STORM_EVERY_S = 1.0            # the storm posts what it owes once a second
# Run in Network Manager's container: POST the body on stdin to its own /propagations, print the answer.
# `timeout -s KILL` ends it there before `docker exec` gives up here, so no post lands after its stop row.
STORM_POST_KILL_S = 10
STORM_POST = ("import sys, urllib.request; r = urllib.request.urlopen(urllib.request.Request("
              "'http://127.0.0.1:8092/propagations', data=sys.stdin.buffer.read(), method='POST', "
              "headers={'Content-Type': 'application/json'}), timeout=8); print(r.read().decode())")

_WHY = {"dns-admin": "its requests to dns-admin wait inside Toxiproxy",
        "redis": "its requests to Redis (the lock's release, its events, its next plan) wait inside Toxiproxy"}

# (what must happen, within how long) -> the first such event, or None when it did not happen in time.
WaitEvent = Callable[[Callable[[Event], bool], float], Awaitable[Event | None]]


class FaultNotStarted(Exception):
    """A fault could not be injected (a container not running, dns-admin down, ...); nothing to stop."""


class Nemesis:
    def __init__(self, toxiproxy: ToxiproxyClient, events: RedisEventSink, *, containers: dict[str, str],
                 history: list[dict[str, Any]] | None = None, admin: DnsAdminClient | None = None,
                 wait_event: WaitEvent | None = None) -> None:
        self._toxiproxy = toxiproxy
        self._events = events
        self._containers = containers  # service -> container id, for pause/unpause, kill/start
        self._paused: set[str] = set()
        self._killed: set[str] = set()
        self._history = history
        self._admin = admin
        self._wait_event = wait_event
        # fault id -> (its stop, the task posting its droplets); droplets posted so far; posts that failed
        self._storms: dict[Any, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        self._stormed: dict[Any, int] = {}
        self._storm_failures: dict[Any, list[tuple[int, str]]] = {}   # (droplets, why) of each failed post
        self._queue: int | None = None                      # Network Manager's queue after the last post

    async def _record(self, kind: str, **fields: Any) -> None:
        """One start or stop: a row in the local history (if kept) and an event in the stream."""
        if self._history is not None:
            self._history.append({"source": "nemesis", "type": kind, "t": time.time(), **fields})
        await self._events.emit(kind, **fields)

    # --- the scenarios' pairs ----------------------------------------------------------------------
    async def hold(self, enactor: str, path: str = "dns-admin", **tags: Any) -> None:
        proxy = f"{enactor}-{path}"
        await self._toxiproxy.add_toxic(proxy, name=HOLD_TOXIC, type="latency", stream="upstream",
                                        latency=HOLD_LATENCY_MS, jitter=0)
        await self._record("fault_started", fault=f"hold-{path}", target=enactor, proxy=proxy, why=_WHY[path], **tags)

    async def release(self, enactor: str, path: str = "dns-admin", **tags: Any) -> None:
        proxy = f"{enactor}-{path}"
        await self._toxiproxy.remove_toxic(proxy, HOLD_TOXIC)
        await self._record("fault_stopped", fault=f"hold-{path}", target=enactor, proxy=proxy,
                           why="held requests go through now", **tags)

    async def slow(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.add_toxic(proxy, name=SLOW_TOXIC, type="latency", stream="upstream",
                                        latency=SLOW_MS, jitter=0)
        await self._record("fault_started", fault="slow-dns-admin", target=enactor, proxy=proxy,
                           why=f"each of its requests to dns-admin takes {SLOW_MS} ms longer")

    async def unslow(self, enactor: str) -> None:
        proxy = f"{enactor}-dns-admin"
        await self._toxiproxy.remove_toxic(proxy, SLOW_TOXIC)
        await self._record("fault_stopped", fault="slow-dns-admin", target=enactor, proxy=proxy,
                           why="its path to dns-admin is fast again")

    async def pause(self, enactor: str, **tags: Any) -> None:
        await self._docker("pause", enactor)
        self._paused.add(enactor)
        await self._record("fault_started", fault="pause", target=enactor, proxy=None,
                           why="docker pause: the process is frozen where it stands", **tags)

    async def unpause(self, enactor: str, **tags: Any) -> None:
        await self._docker("unpause", enactor)
        self._paused.discard(enactor)
        await self._record("fault_stopped", fault="pause", target=enactor, why="docker unpause: it runs on", **tags)

    async def heal(self) -> None:
        for fault_id in list(self._storms):
            await self._end_storm(fault_id)
        for enactor in sorted(self._paused):
            await self._docker("unpause", enactor)
        self._paused.clear()
        for service in sorted(self._killed):
            await self._docker("start", service, timeout_s=DOCKER_START_TIMEOUT_S)
        self._killed.clear()
        await self._toxiproxy.reset()
        await self._record("fault_stopped", fault="all", why="every toxic removed, every proxy enabled")

    # --- the campaign's pairs ----------------------------------------------------------------------
    async def toxic(self, spec: FaultSpec) -> None:
        proxy, toxic = self._toxic_of(spec)
        params = spec.params
        if spec.fault == "latency":
            attributes = {"latency": int(params["latency_ms"]), "jitter": int(params["jitter_ms"])}
            stream = str(params.get("stream", "upstream"))
            why = f"its traffic to {params['path']} is delayed {params['latency_ms']}±{params['jitter_ms']} ms ({stream})"
        elif spec.fault == "timeout":
            attributes, stream = {"timeout": int(params["timeout_ms"])}, "upstream"
            why = f"its traffic to {params['path']} stops; each connection is closed after {params['timeout_ms']} ms"
        else:
            attributes, stream = {"timeout": int(params["timeout_ms"])}, "upstream"
            why = f"its connections to {params['path']} are reset (TCP RST) after {params['timeout_ms']} ms"
        kind = "reset_peer" if spec.fault == "reset-peer" else spec.fault
        await self._toxiproxy.add_toxic(proxy, name=toxic, type=kind, stream=stream, **attributes)  # type: ignore[arg-type]
        await self._record("fault_started", fault=spec.fault, target=spec.target, proxy=proxy, id=spec.id, why=why)

    async def untoxic(self, spec: FaultSpec) -> None:
        proxy, toxic = self._toxic_of(spec)
        await self._toxiproxy.remove_toxic(proxy, toxic)
        await self._record("fault_stopped", fault=spec.fault, target=spec.target, proxy=proxy, id=spec.id,
                           why=f"its path to {spec.params['path']} is clean again")

    async def partition(self, enactor: str, **tags: Any) -> None:
        for path in PATHS:
            await self._toxiproxy.disable(f"{enactor}-{path}")
        await self._record("fault_started", fault="partition", target=enactor, proxy=None, **tags,
                           why="every proxy of it disabled: its connections cut, new ones refused")

    async def unpartition(self, enactor: str, **tags: Any) -> None:
        for path in PATHS:
            await self._toxiproxy.enable(f"{enactor}-{path}")
        await self._record("fault_stopped", fault="partition", target=enactor, **tags,
                           why="its proxies are enabled again")

    async def cut_storage(self, **tags: Any) -> None:
        await self._toxiproxy.disable(STORAGE_PROXY)
        await self._record("fault_started", fault=CASCADE_FAULT, target="dynamodb", proxy=STORAGE_PROXY, **tags,
                           why="the storage node's proxy disabled: every DynamoDB call fails, the leases lapse")

    async def restore_storage(self, **tags: Any) -> None:
        await self._toxiproxy.enable(STORAGE_PROXY)
        await self._record("fault_stopped", fault=CASCADE_FAULT, target="dynamodb", proxy=STORAGE_PROXY, **tags,
                           why="the storage node answers again")

    async def storm(self, spec: FaultSpec, **tags: Any) -> None:
        """The first second's droplets posted (a failure is the fault's: not started), then a task posts
        what is owed once a second, by the clock: a slow `docker exec` does not lower the rate, and a post
        that fails is owed again at the next tick (the stop row counts the failures)."""
        per_s = int(spec.params["droplets_per_s"])
        self._stormed[spec.id], self._storm_failures[spec.id] = 0, []
        await self._post_droplets(spec.id, per_s)
        started, stop = time.monotonic(), asyncio.Event()

        async def keep_posting() -> None:
            while not await sleep_or_stop(stop, STORM_EVERY_S):
                owed = int((time.monotonic() - started) * per_s) + per_s - self._stormed[spec.id]
                if owed > 0:
                    try:
                        await self._post_droplets(spec.id, owed)
                    except Exception as error:  # noqa: BLE001 — owed again at the next tick; the stop row says it
                        self._storm_failures[spec.id].append((owed, f"{type(error).__name__}: {error}"))

        self._storms[spec.id] = (stop, asyncio.create_task(keep_posting()))
        await self._record("fault_started", fault=STORM_FAULT, target="netmgr", proxy=None, **tags,
                           droplets_per_s=per_s, queue=self._queue,
                           why=f"network state for {per_s} droplets a second posted to Network Manager "
                               f"({spec.params.get('times_rate')}x the {spec.params.get('propagate_per_s')} a "
                               "second it works)")

    async def _end_storm(self, fault_id: Any) -> None:
        """No more ticks; a post in flight is let finish (a `docker exec` cannot be taken back), so what
        the stop row counts is what Network Manager was given."""
        stop, task = self._storms.pop(fault_id, (None, None))
        if stop is not None and task is not None:
            stop.set()
            await asyncio.gather(task, return_exceptions=True)

    async def unstorm(self, spec: FaultSpec, **tags: Any) -> None:
        await self._end_storm(spec.id)
        failures = self._storm_failures.get(spec.id) or []
        if failures:     # a failed post may still have landed (an answer lost): its droplets are counted apart
            tags.update(failed_posts=len(failures), unconfirmed=sum(n for n, _ in failures), storm_failed=failures[-1][1])
        await self._record("fault_stopped", fault=STORM_FAULT, target="netmgr", **tags,
                           posted=self._stormed.get(spec.id, 0), queue=self._queue,
                           why="no more posted; what is queued is Network Manager's to work")

    async def _post_droplets(self, fault_id: Any, count: int) -> None:
        """`count` droplets, numbered on from the last post, confirmed or failed (a failed one's numbers are
        never reused: it may have landed); `_stormed` counts those Network Manager confirmed."""
        first = self._stormed.get(fault_id, 0) + sum(n for n, _ in self._storm_failures.get(fault_id, ()))
        answer = await self._exec("netmgr", "timeout", "-s", "KILL", str(STORM_POST_KILL_S), "python3", "-c",
                                  STORM_POST, stdin=json.dumps({"droplets": list(range(first, first + count))}))
        self._stormed[fault_id] = self._stormed.get(fault_id, 0) + count
        with contextlib.suppress(ValueError, TypeError, KeyError):
            self._queue = int(json.loads(answer)["queue"])

    async def kill(self, service: str, fault: str, **tags: Any) -> None:
        await self._docker("kill", service, "-s", "KILL")
        self._killed.add(service)
        await self._record("fault_started", fault=fault, target=service, proxy=None, **tags,
                           why="SIGKILL: the process dies where it stands")

    async def start(self, service: str, fault: str, **tags: Any) -> None:
        await self._docker("start", service, timeout_s=DOCKER_START_TIMEOUT_S)
        self._killed.discard(service)
        await self._record("fault_stopped", fault=fault, target=service, **tags, why="docker start: it runs again")

    async def delete_live_plan(self, *, client: str = NEMESIS_CLIENT, comment: str | None = None,
                               **tags: Any) -> tuple[str, str]:
        """The operator's mistake: the record set the endpoint aliases, deleted through the API, as
        `client` (the nemesis's own name, or "operator" for reproduce-outage's manual-delete). The start
        row names the batch's change id and client: the checker knows the deletion is the fault by them.
        Returns the plan deleted and the change id."""
        if self._admin is None:
            raise FaultNotStarted("no dns-admin client to delete through")
        alias = await self._admin.get_record_set(ENDPOINT, "ALIAS")
        if alias is None or alias.target is None:
            raise FaultNotStarted("the endpoint has no alias to follow")
        record_set = await self._admin.get_record_set(alias.target, "A")
        if record_set is None:
            raise FaultNotStarted(f"{alias.target} is already missing")
        plan = plan_of_record_name(alias.target)
        result = await self._admin.submit(ChangeBatch(changes=(Change("DELETE", record_set),), client=client,
                                                      comment=comment or f"nemesis: delete {plan} (an operator's mistake)"))
        await self._record("fault_started", fault="delete-live-plan", target="dns-admin", plan=plan, **tags,
                           change_id=result.change_id, client=client,
                           why=f"the live plan {plan}'s record set deleted through the API")
        return plan, result.change_id

    async def deletion_done(self, **tags: Any) -> None:
        await self._record("fault_stopped", fault="delete-live-plan", target="dns-admin", **tags,
                           why="the deletion is done; repairing it is up to the enactors")

    @asynccontextmanager
    async def fault(self, spec: FaultSpec) -> AsyncIterator[bool]:
        """Start `spec`'s fault on entry and stop it on exit, whatever ends the block (cancellation too).

        Yields whether the fault started. One that could not start is a `fault_failed` row with the
        reason, never an exception: a campaign goes on. Stopping is attempted even then (a partition
        may have disabled one proxy of three before failing), and a failed stop is left to heal()."""
        started = False
        tags: dict[str, Any] = {"id": spec.id}
        try:
            await self._start(spec, tags)
            started = True
        except Exception as error:  # noqa: BLE001 — any failure to inject is recorded, and the run goes on
            await self._record("fault_failed", fault=spec.fault, target=spec.target, id=spec.id,
                               why=f"{type(error).__name__}: {error}")
        try:
            yield started
        finally:
            try:
                await asyncio.shield(self._stop(spec, tags, started))
            except Exception as error:  # noqa: BLE001 — heal() at the end of the run removes what is left
                await self._record("fault_stop_failed", fault=spec.fault, target=spec.target, id=spec.id,
                                   why=f"{type(error).__name__}: {error}")

    async def _start(self, spec: FaultSpec, tags: dict[str, Any]) -> None:
        fault, target, params = spec.fault, spec.target, spec.params
        if fault in ("latency", "timeout", "reset-peer"):
            await self.toxic(spec)
        elif fault == "hold":
            await self.hold(target, str(params["path"]), **tags)
        elif fault == "partition":
            await self.partition(target, **tags)
        elif fault == "pause":
            if params.get("while_locked") and self._wait_event is not None:
                await self._pause_holding_the_lock(spec, tags)
            else:
                await self.pause(target, **tags)
        elif fault in ("kill-enactor", "kill-redis", "kill-dns-admin"):
            if params.get("mid_batch") and self._wait_event is not None:
                await self._kill_mid_batch(spec, tags)
            else:
                await self.kill(target, fault, **tags)
        elif fault == "delete-live-plan":
            await self.delete_live_plan(**tags)
        elif fault == CASCADE_FAULT:
            await self.cut_storage(**tags)
        elif fault == STORM_FAULT:
            await self.storm(spec, **tags)
        else:
            raise FaultNotStarted(f"unknown fault {fault!r}")

    async def _pause_holding_the_lock(self, spec: FaultSpec, tags: dict[str, Any]) -> None:
        """Freeze the enactor inside its lock tenure, its write on the way, as the pause scenario does.

        A tenure is tens of milliseconds, shorter than an event takes to reach us. So the nemesis waits
        for the enactor to pass a check (it is about to take the lock), slows its path to dns-admin at once
        (LOCKED_SLOW_MS a request, on its open connection too), so that the tenure lasts seconds, waits for
        the lock to be taken, and freezes it; the slow-down ends as soon as it is frozen. An enactor that
        passes no check within lock_wait_s (others win every plan) is frozen where it stands, and the row
        says so (while_locked false)."""
        assert self._wait_event is not None
        wait_s = float(spec.params.get("lock_wait_s", 8.0))
        proxy, slow = f"{spec.target}-dns-admin", f"chaos-{spec.id}-lock-slow"
        checked = await self._wait_event(lambda e: e.service == spec.target and e.kind == "check_passed", wait_s)
        locked = None
        try:
            if checked is not None:
                checked_plan = checked.plan
                await self._toxiproxy.add_toxic(proxy, name=slow, type="latency", stream="upstream",
                                                latency=LOCKED_SLOW_MS, jitter=0)
                locked = await self._wait_event(lambda e: (e.service == spec.target and e.kind == "lock_acquired"
                                                           and e.plan == checked_plan), wait_s)
            tags["while_locked"] = locked is not None
            if locked is not None:
                tags["lock_plan"], tags["lock_token"] = locked.plan, locked.token
            await self.pause(spec.target, **tags)
        finally:
            if checked is not None:
                await self._remove_quietly((proxy, slow))

    async def _kill_mid_batch(self, spec: FaultSpec, tags: dict[str, Any]) -> None:
        """SIGKILL dns-admin the moment it has committed a batch of `via`'s, its answer held in via's proxy."""
        via = str(spec.params["via"])
        proxy = f"{via}-dns-admin"
        await self._toxiproxy.add_toxic(proxy, name=self._answer_hold(spec), type="latency", stream="downstream",
                                        latency=ANSWER_HOLD_MS, jitter=0)
        assert self._wait_event is not None
        committed = await self._wait_event(
            lambda e: e.service == "dns-admin" and e.kind == "batch_accepted" and e.detail.get("client") == via,
            float(spec.params.get("batch_wait_s", 4.0)))
        tags.update(mid_batch=committed is not None, via=via,
                    **({"change_id": committed.detail.get("change_id")} if committed is not None else {}))
        await self.kill(spec.target, spec.fault, **tags)

    async def _stop(self, spec: FaultSpec, tags: dict[str, Any], started: bool) -> None:
        fault, target = spec.fault, spec.target
        if fault in ("latency", "timeout", "reset-peer"):
            if started:
                await self.untoxic(spec)
            else:
                await self._remove_quietly(self._toxic_of(spec))
        elif fault == "hold":
            if started:
                await self.release(target, str(spec.params["path"]), **tags)
            else:
                await self._remove_quietly((f"{target}-{spec.params['path']}", HOLD_TOXIC))
        elif fault == "partition":
            if started:
                await self.unpartition(target, **tags)
            else:
                for path in PATHS:
                    await self._toxiproxy.enable(f"{target}-{path}")
        elif fault == "pause" and started:
            await self.unpause(target, **tags)
        elif fault.startswith("kill-"):
            if spec.params.get("mid_batch"):
                await self._remove_quietly((f"{spec.params['via']}-dns-admin", self._answer_hold(spec)))
            if started:
                await self.start(target, fault, **tags)
        elif fault == "delete-live-plan" and started:
            await self.deletion_done(**tags)
        elif fault == CASCADE_FAULT:
            if started:
                await self.restore_storage(**tags)
            else:
                await self._toxiproxy.enable(STORAGE_PROXY)
        elif fault == STORM_FAULT:
            if started:
                await self.unstorm(spec, **tags)
            else:     # started its task, then failed to say so: the task still stops here
                await self._end_storm(spec.id)

    @staticmethod
    def _toxic_of(spec: FaultSpec) -> tuple[str, str]:
        return f"{spec.target}-{spec.params['path']}", f"chaos-{spec.id}-{spec.fault}"

    @staticmethod
    def _answer_hold(spec: FaultSpec) -> str:
        return f"chaos-{spec.id}-answer-hold"

    async def _remove_quietly(self, where: tuple[str, str]) -> None:
        proxy, toxic = where
        if any(t.name == toxic for t in (await self._toxiproxy.proxy(proxy)).toxics):
            await self._toxiproxy.remove_toxic(proxy, toxic)

    async def _exec(self, service: str, *command: str, stdin: str) -> str:
        """`command` run in `service`'s container with `stdin`; its output, or RuntimeError with its error."""
        docker = ["docker", "exec", "-i", self._containers[service], *command]
        result = await asyncio.to_thread(subprocess.run, docker, input=stdin, capture_output=True, text=True,
                                         timeout=DOCKER_TIMEOUT_S)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:1])} in {service} (exit {result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()[-300:]}")
        return result.stdout

    async def _docker(self, verb: str, service: str, *options: str, timeout_s: float = DOCKER_TIMEOUT_S) -> None:
        command = ["docker", verb, *options, self._containers[service]]
        result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=timeout_s)
        if result.returncode != 0 and "is not paused" not in result.stderr:
            raise RuntimeError(f"{' '.join(command)}: {result.stderr.strip()}")
