"""What a run records of the live stack, the same way for every run the lab makes (reproduce-outage
and the chaos campaign): the edge between the running stack and history.py's rows.

    on_newest_plan(live)                 is the endpoint, right now, on the newest plan (dns-admin's view)?
    answering(prober)                    did the resolver's last answer have addresses?
    wait_for_recovery(live, prober, b)   after the faults: until the endpoint is on the newest plan and
                                         clients answer, or a bound of the checker's ran out (+1 s)
    wait_for_leases(live, b)             then, when (7) is judged: until the leases are back, or its
                                         bound ran out (+1 s)
    leased_at_least(live, f, s)          dwfm's first line from now on with >= f leased (None after s)
    wait_for_clients(live, b, since)     then, when (9) is judged: until the network is calm and the
                                         clients served, or until the history reaches past (9)'s bound
    final_reads(live, restarts_before)   the observation the checker reads last: docker's restart counts
                                         during the run, the newest plan, dns-admin's zone with its serial
    export_events(live, after)           the stream's events after a position (all: after=None)
    export_audit(live)                   dns-admin's whole audit
    container_logs(project, since)       each container's log since the run started
    record(live, project, run, ...)      all of it, cut at one moment, as one history (history.assemble)

The checker (harness/checker/) judges what these return; it never reads the stack itself.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from dnsrace.events import Event
from dnsrace.keys import EVENTS_STREAM, FIGURES_STREAM
from dnsrace.plans import plan_id, plan_record_name

from dnsrace_lab.harness import history
from dnsrace_lab.harness.checker import Bounds
from dnsrace_lab.harness.checker.network import SERVED_FOR_S
from dnsrace_lab.harness.client import Prober
from dnsrace_lab.stack.live import ENACTORS, ENDPOINT, Live
from dnsrace_lab.stack.reset import containers

__all__ = ["answering", "container_logs", "export_audit", "export_events", "final_reads", "on_newest_plan",
           "leased_at_least", "record", "wait_for_clients", "wait_for_leases", "wait_for_recovery"]

LEASES_START_WAIT_S = 120.0    # past one renewal period: how long a restarted lease manager may take to lease
RECOVERY_TAIL_S = 1.0          # recorded after recovery, so the history shows the steady state again
FRESH_S = 3.0                  # wait_for_clients: a per-second line older than this is a stalled writer's
EXPORT_ATTEMPTS_MAX = 5
STREAM_CHUNK = 2_000
STREAM_CHUNKS_MAX = 100
LOG_TIMEOUT_S = 30.0


async def on_newest_plan(live: Live) -> bool:
    """The endpoint aliases the newest plan's record set, and that set exists (dns-admin's answer)."""
    try:
        alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
        newest = await live.newest_generation()
        target = plan_record_name(plan_id(max(newest, 1)), ENDPOINT)
        return (alias is not None and alias.target == target
                and await live.admin.get_record_set(target, "A") is not None)
    except Exception:  # noqa: BLE001 — dns-admin or Redis just restarted: not yet, ask again
        return False


def answering(prober: Prober) -> bool:
    last = next((op for op in reversed(prober.history) if op["process"] == "resolver" and op["type"] != "invoke"), None)
    return last is not None and last["type"] == "ok"


async def wait_for_recovery(live: Live, prober: Prober, bounds: Bounds) -> None:
    """Until the endpoint is on the newest plan and clients answer, within the checker's bounds (+1 s):
    the history must reach past a bound for the checker to say it was missed rather than "unknown"."""
    started = time.monotonic()
    converged_at: float | None = None
    while True:
        now = time.monotonic()
        if converged_at is None and await on_newest_plan(live):
            converged_at = now
        if converged_at is None and now - started > bounds.converge_bound_s + 1:
            return
        if converged_at is not None:
            if answering(prober) and now - converged_at >= RECOVERY_TAIL_S:
                return
            if now - converged_at > bounds.negative_ttl_s + bounds.answer_slack_s + 1:
                return
        await asyncio.sleep(0.2)


async def leased_at_least(live: Live, fraction: float, within_s: float) -> dict[str, Any] | None:
    """dwfm's first per-second line newer than this call with at least `fraction` of droplets leased, or
    None once `within_s` ran out (a Redis that does not answer is asked again)."""
    started = time.time()
    while time.time() < started + within_s:
        try:
            figures = await live.latest_leases()
        except (aioredis.RedisError, OSError, TimeoutError):
            figures = None
        if (figures is not None and figures["t"] > started
                and float(figures.get("leased_fraction") or 0) >= fraction):
            return figures
        await asyncio.sleep(1.0)
    return None


async def wait_for_leases(live: Live, bounds: Bounds) -> None:
    """(7)'s wait, after wait_for_recovery (every fault stopped, the resolver answering): until dwfm's
    newest line says the bound's fraction is leased, or the bound (+1 s) ran out, so the history reaches
    past it and the checker decides. Nothing to wait for in a run that does not judge (7)."""
    if bounds.lease_recovery_bound_s is None:
        return
    if await leased_at_least(live, bounds.leased_fraction, bounds.lease_recovery_bound_s + 1) is not None:
        await asyncio.sleep(RECOVERY_TAIL_S)


async def wait_for_clients(live: Live, bounds: Bounds, *, since: float) -> None:
    """(9)'s wait, after the faults stopped and DNS answered (`since`, wall time, no earlier than (9)'s
    moment): the history must reach past `since` + (9)'s bound + SERVED_FOR_S for the checker to decide.
    Two things end it sooner: (9) already broken (a second below the success rate past `since` + the
    bound), or the network calm for SERVED_FOR_S + 2 s in a row: nothing older than a second queued at
    Network Manager (a storm's backlog worked), no slot without networking, every target in service,
    the clients served; then nothing is left that could fail them. Only figures written in the last
    FRESH_S count (a stalled service's last good line is not calm). Nothing to wait for in a run that
    does not judge (9)."""
    bound = bounds.client_recovery_bound_s
    if bound is None:
        return
    deadline = since + bound + SERVED_FOR_S + 2.0
    calm_since: float | None = None
    while time.time() < deadline:
        try:
            lines = [await live.latest_figures(kind) for kind in ("netmgr_window", "nlb_window", "client_window")]
        except (aioredis.RedisError, OSError, TimeoutError):
            lines = [None, None, None]
        now = time.time()
        net, nlb, clients = (line if line is not None and now - float(line["t"]) <= FRESH_S else None
                             for line in lines)
        rate = None if clients is None else clients.get("success_rate")   # None: a second without a request
        served = rate is not None and float(rate) >= bounds.success_rate
        if clients is not None and rate is not None and not served and float(clients["t"]) > since + bound:
            await asyncio.sleep(RECOVERY_TAIL_S)      # broken past its bound: decided
            return
        calm = (net is not None and nlb is not None and served
                and float(net.get("head_age_s") or 0) < 1.0 and int(net.get("without_network") or 0) == 0
                and nlb.get("in_service") == nlb.get("targets"))
        calm_since = (calm_since or now) if calm else None
        if calm_since is not None and now - calm_since >= SERVED_FOR_S + 2.0:
            return
        await asyncio.sleep(1.0)


async def final_reads(live: Live, restarts_before: dict[str, int] | None = None) -> dict[str, Any]:
    """The last observation. `restart_counts` are docker's counts minus `restarts_before` (the counts
    when the run started; none given: the stack was reset, so they started from zero)."""
    observation: dict[str, Any] = {"t": time.time(), "what": "final reads"}
    try:
        counts = await asyncio.to_thread(live.restart_counts)
        observation["restart_counts"] = {name: count - (restarts_before or {}).get(name, 0)
                                         for name, count in counts.items()}
    except (subprocess.SubprocessError, OSError, KeyError) as error:
        observation["restart_counts_error"] = repr(error)
    try:
        observation["newest_generation"] = await live.newest_generation()
    except (aioredis.RedisError, OSError, TimeoutError) as error:
        observation["newest_generation_error"] = repr(error)
    try:
        # The raw listing: its serial says exactly which batches it includes (checker (5)).
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(f"http://127.0.0.1:{live.ports.admin}/v1/record-sets") as response:
                listing = await response.json(content_type=None)
        observation["serial"] = listing["serial"]
        observation["record_sets"] = listing["record_sets"]
        observation["endpoint_alias"] = next((rs.get("target") for rs in listing["record_sets"]
                                              if rs["name"] == ENDPOINT and rs["type"] == "ALIAS"), None)
    except (aiohttp.ClientError, OSError, TimeoutError, KeyError, ValueError) as error:
        observation["record_sets_error"] = repr(error)
    return observation


async def export_events(live: Live, after: str | None = None, stream: str = EVENTS_STREAM) -> list[dict[str, Any]]:
    """The stream's events after stream position `after` (None: all, from the reset), oldest first;
    bounded retries and chunks. A position is a time (Redis stream ids are milliseconds), so the
    event stream's position also cuts the figures stream at the same moment."""
    for attempt in range(EXPORT_ATTEMPTS_MAX):
        try:
            found: list[dict[str, Any]] = []
            cursor = "-" if after is None else f"({after}"
            for _ in range(STREAM_CHUNKS_MAX):
                rows = await live.redis.xrange(stream, min=cursor, count=STREAM_CHUNK)
                for entry_id, fields in rows:
                    event = Event.from_json(json.loads(fields[b"event"]), seq=int(fields[b"seq"]))
                    found.append(event.to_json())
                if len(rows) < STREAM_CHUNK:
                    return found
                cursor = f"({rows[-1][0].decode()}"
            return found
        except (aioredis.RedisError, OSError, TimeoutError):
            if attempt + 1 == EXPORT_ATTEMPTS_MAX:
                raise
            await asyncio.sleep(1.0)
    return []


async def export_audit(live: Live) -> list[dict[str, Any]]:
    for attempt in range(EXPORT_ATTEMPTS_MAX):
        try:
            return await live.admin.audit(1000)
        except Exception:  # noqa: BLE001 — dns-admin may have just been restarted: bounded retries
            if attempt + 1 == EXPORT_ATTEMPTS_MAX:
                raise
            await asyncio.sleep(1.0)
    return []


def container_logs(project: str, since: float) -> dict[str, str]:
    """Each container's log since the run started (docker's timestamps on each line)."""
    logs = {}
    for service, container in sorted(containers(project).items()):
        result = subprocess.run(["docker", "logs", "--timestamps", "--since", f"{since:.3f}", container.id],
                                capture_output=True, text=True, timeout=LOG_TIMEOUT_S)
        logs[service] = result.stdout + result.stderr
    return logs


async def record(live: Live, project: str, run: dict[str, Any], *, probes: list[dict[str, Any]],
                 nemesis: list[dict[str, Any]], observation: dict[str, Any], started_wall: float,
                 after: str | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The run's history (history.assemble's rows) and its containers' logs.

    The history ends here: the stream is read first, the audit after it, so every batch an event
    acknowledges is already in the audit. The services run on meanwhile; what their logs print after this
    moment is left out, or the audit would lag it. An event the stream lost (Redis was down) but a
    container printed is taken from its log."""
    cut = time.time()
    events = await export_events(live, after)
    figures = [row for row in await export_events(live, after, FIGURES_STREAM) if float(row["t"]) <= cut]
    audit = await export_audit(live)
    logs = await asyncio.to_thread(container_logs, project, started_wall - 1.0)
    logged = [event for service in (*ENACTORS, "planner", "dns-admin")
              for event in history.events_from_log(logs.get(service, "")) if float(event["t"]) <= cut]
    recorded = history.assemble(run, client=probes, nemesis=nemesis, event=history.merge_events(events, logged),
                                audit=audit, observation=[observation], figures=figures)
    return recorded, logs
