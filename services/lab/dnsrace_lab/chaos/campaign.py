"""python3 -m dnsrace_lab.chaos — a randomized, seeded fault campaign on the running stack (make chaos).

    --mode safe|legacy  --runs N  --seed S        runs S, S+1, ... S+N-1, each its own schedule
    --replay store/chaos/<run>                    the same schedule (and mode) as that run, again
    --cascade                                     the lease manager too (make chaos CASCADE=1): dwfm, the
                                                  load balancer's control and Network Manager in the
                                                  campaign's mode, one cut of the storage node and one
                                                  propagation storm a run, and (7), (8), (9)

Each run, Jepsen's shape, every part in its own module:
    1. reset      the stack's state cleared in place (dnsrace_lab.stack.reset, about 5 s): each run starts at
                  the lab's first second, so runs are independent and the audit starts at row 1
    2. generator  the schedule, from the seed alone (chaos/generator.py); its first log line is the seed and
                  every parameter
    3. client     probes of the resolver and the authoritative view, 20 a second each (client.py), from
                  before the first fault to the end
    4. nemesis    each fault started at its time and stopped after its length, in a `finally`
                  (nemesis.py); then heal(), in a `finally` too: no toxic, paused or killed container
                  outlives a run, Ctrl-C included
    5. recovery   "waiting for recovery": until the endpoint is on the newest plan and the resolver
                  answers (bounded by the checker's own bounds); with the cascade, until the leases are
                  back or (7)'s bound ran out, and until (9) can be judged (recording.wait_for_clients);
                  then the final reads
    6. history    probes, the nemesis's rows, the stream's events (and those only in container logs),
                  dns-admin's audit and the final reads, in one JSONL file (history.py)
    7. checker    the six invariants (nine with the cascade), from the history alone (harness/checker/); and the model verdict: the
                  run's events checked against model/dnsrace.pml by Spin (conformance.py)
    8. report     store/chaos/<time>-<mode>-<seed>/: history.jsonl, results.json, logs/, timeline.html,
                  and store/latest -> it (harness/report/); one row per run, a summary at the end

Exit status: 0 every invariant held in every run; 1 one was broken; 2 a verdict was unknown (or the
campaign itself could not run: the stack would not reset).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from dnsrace.deadline import within
from dnsrace.events import Event

from dnsrace_lab.chaos.generator import FaultSpec, Parameters, Schedule, generate
from dnsrace_lab.harness import checker
from dnsrace_lab.harness.checker.verdict import CLIENT_RECOVERY_BOUND_S, LEASE_RECOVERY_BOUND_S
from dnsrace_lab.harness import conformance
from dnsrace_lab.harness import history
from dnsrace_lab.harness import recording
from dnsrace_lab.harness import report
from dnsrace_lab.harness.client import Prober
from dnsrace_lab.harness.nemesis import Nemesis
from dnsrace_lab.stack.live import ENDPOINT, TOP, Live, Ports, StepNotReached, compose_command
from dnsrace_lab.stack.names import SERVICES, lab_pythonpath
from dnsrace_lab.stack.reset import EXIT_CANNOT_RESET_IN_PLACE, containers
from dnsrace_lab.stack.signals import cancelled_by_sigterm   # SIGTERM cancels as Ctrl-C does, so every `finally` heals

RESET_TIMEOUT_S = 300.0
FIRST_ANSWER_WITHIN_S = 30.0   # after the reset, the resolver answers (wait-ready saw it already)
FAULT_OVERRUN_S = 90.0         # the fault phase may run this much past its length (slow docker starts)
FAULT_UNWIND_S = 30.0          # past that, how long the faults in flight may take to unwind before the heal
DOCKER_TIMEOUT_S = 30.0
LEASED_BEFORE_FAULTS = 0.95    # the cascade's runs start their faults from a lease manager this leased


class CampaignError(Exception):
    """The campaign could not run (the stack would not reset, is missing, ...): no verdict at all."""


@dataclass
class RunResult:
    folder: Path
    schedule: Schedule
    verdicts: dict[str, checker.Verdict]
    faults_started: int
    run_s: float          # the run itself: from the first probe to the last export
    reset_s: float

    @property
    def valid(self) -> checker.Valid:
        return checker.overall(self.verdicts)


def say(text: str) -> None:
    print(text, flush=True)


# --- 1. reset -------------------------------------------------------------------------------------------

def reset_stack(project: str, mode: str, log: list[str], *, downstream_mode: str | None = None) -> float:
    """The stack's state cleared in place, in `mode`; the enactors are recreated first if they run another,
    and so are the lease manager, the load balancer's control and Network Manager when one of them runs
    another design than `downstream_mode` (the cascade's campaigns)."""
    started = time.monotonic()
    command = [sys.executable, "-m", "dnsrace_lab.stack.reset", "--mode", mode, "--project", project]
    designs = {name: downstream_mode for name in DOWNSTREAM} if downstream_mode else {}
    env = os.environ | {"PYTHONPATH": lab_pythonpath()} | designs
    wrong = downstream_designs(project) != designs if designs else False
    if wrong:
        up = subprocess.run([*compose_command(project), "up", "-d", "--remove-orphans"], capture_output=True, text=True,
                            timeout=RESET_TIMEOUT_S, env=env | {"ENACTOR_MODE": mode}, cwd=TOP)
        log += [line for line in (up.stdout + up.stderr).splitlines() if line]
        if up.returncode != 0:
            raise CampaignError(f"compose up with {' '.join(f'{k}={v}' for k, v in designs.items())} failed: "
                                f"{up.stderr.strip()[-400:]}")
    for attempt in (1, 2):
        result = subprocess.run(command, capture_output=True, text=True, timeout=RESET_TIMEOUT_S, env=env, cwd=TOP)
        log += [line for line in (result.stdout + result.stderr).splitlines() if line]
        if result.returncode == 0:
            return time.monotonic() - started
        if result.returncode != EXIT_CANNOT_RESET_IN_PLACE or attempt == 2:
            raise CampaignError(f"the stack did not reset (exit {result.returncode}): "
                                f"{(result.stderr or result.stdout).strip()[-400:]}")
        # Another mode (or a missing container): compose recreates exactly what differs, then reset again.
        up = subprocess.run([*compose_command(project), "up", "-d", "--remove-orphans"], capture_output=True, text=True,
                            timeout=RESET_TIMEOUT_S, env=env | {"ENACTOR_MODE": mode}, cwd=TOP)
        log += [line for line in (up.stdout + up.stderr).splitlines() if line]
        if up.returncode != 0:
            raise CampaignError(f"compose up in mode {mode} failed: {up.stderr.strip()[-400:]}")
    raise CampaignError("unreachable")


# The cascade's downstream designs, each as the container that reads it was created with.
DOWNSTREAM = {"DWFM_MODE": ("dwfm", "dwfm_mode"), "NLB_MODE": ("nlb-control", "nlb_mode"),
              "NETMGR_MODE": ("netmgr", "netmgr_mode")}


def downstream_designs(project: str) -> dict[str, str | None]:
    """DWFM_MODE, NLB_MODE and NETMGR_MODE as their containers were created (None: no such container)."""
    found = containers(project)
    return {name: (None if found.get(service) is None else (getattr(found[service], field) or "legacy"))
            for name, (service, field) in DOWNSTREAM.items()}


async def check_cascade(live: Live, parameters: Parameters) -> str:
    """After the reset: dwfm, nlb-control and netmgr run the campaign's design, dwfm with the TTL and
    netmgr at the rate the schedules were drawn with, and dwfm has leased its droplets (a cut while it is still starting would find no lease to lapse: legacy's seed
    11 recovered in 33 s so). A line for the run's log."""
    try:
        said = await live.dwfm_parameters()
    except StepNotReached as missing:
        raise CampaignError(str(missing)) from None
    except (aioredis.RedisError, OSError, TimeoutError) as error:
        raise CampaignError(f"the lease manager's parameters could not be read from Redis: {error!r}") from None
    if said.get("mode") != parameters.mode or float(said.get("ttl_s") or 0) != parameters.lease_ttl_s:
        raise CampaignError(f"the lease manager runs design {said.get('mode')} with a lease TTL of {said.get('ttl_s')} s; "
                            f"the campaign drew its schedules for {parameters.mode} and {parameters.lease_ttl_s:g} s "
                            "(was the stack changed during the campaign?)")
    try:
        nlb = await live.started_parameters("nlb_started", "the load balancer's control", "nlb-control")
        netmgr = await live.started_parameters("netmgr_started", "Network Manager", "netmgr")
    except StepNotReached as missing:
        raise CampaignError(str(missing)) from None
    storm_drawn = parameters.client_recovery_bound_s is not None   # (a replay of a run from before act 2: none)
    if (nlb.get("mode"), netmgr.get("mode")) != (parameters.mode, parameters.mode) or \
            (storm_drawn and float(netmgr.get("propagate_per_s") or 0) != parameters.propagate_per_s):
        raise CampaignError(f"the load balancer's control runs {nlb.get('mode')} and Network Manager {netmgr.get('mode')} "
                            f"at {netmgr.get('propagate_per_s')} a second; the campaign drew its schedules for "
                            f"{parameters.mode} at {parameters.propagate_per_s:g} a second")
    within_s = float(said.get("renew_s") or 0) + recording.LEASES_START_WAIT_S
    healthy = await recording.leased_at_least(live, LEASED_BEFORE_FAULTS, within_s)
    if healthy is None:
        raise CampaignError(f"the lease manager did not lease {LEASED_BEFORE_FAULTS:.0%} of its droplets within "
                            f"{within_s:g} s of the reset: no steady state to start the faults from")
    return (f"the lease manager ({said.get('mode')}, {said.get('droplets')} droplets, TTL {said.get('ttl_s')} s) is "
            f"healthy before the faults: {float(healthy['leased_fraction']):.1%} leased; the load balancer's "
            f"control {nlb.get('mode')}, Network Manager {netmgr.get('mode')} at {netmgr.get('propagate_per_s')} a second")


# --- 4. the interpreter: each fault at its time --------------------------------------------------------

async def inject_all(nemesis: Nemesis, schedule: Schedule, phase_started: float) -> None:
    """Every fault of the schedule at its time, side by side (a fault waits for its target: `busy`)."""
    busy: dict[str, asyncio.Lock] = {}
    async with asyncio.TaskGroup() as group:
        for spec in schedule.faults:
            group.create_task(inject(nemesis, spec, phase_started, busy))


async def inject(nemesis: Nemesis, spec: FaultSpec, phase_started: float, busy: dict[str, asyncio.Lock]) -> None:
    """At its time, start the fault; stop it after its length. A fault on a target another fault still
    holds waits for it: the schedule never overlaps two on one target, but a trigger's wait (a pause
    waiting for the lock) or a slow `docker start` can make one run past its slot."""
    await asyncio.sleep(max(0.0, phase_started + spec.at_s - time.monotonic()))
    async with contextlib.AsyncExitStack() as held:
        for target in sorted({spec.target} | ({str(spec.params["via"])} if spec.params.get("via") else set())):
            await held.enter_async_context(busy.setdefault(target, asyncio.Lock()))
        async with nemesis.fault(spec) as started:
            if started:
                await asyncio.sleep(spec.for_s)


def event_waiter(live: Live) -> Callable[[Any, float], Awaitable[Event | None]]:
    """For the nemesis's triggers (a pause while the lock is held, a kill mid-batch): None if not in time."""
    async def wait(match: Any, within_s: float) -> Event | None:
        try:
            since = await live.stream_position()
            return await live.wait_event(since, "a fault's trigger", match, within_s=within_s)
        except (StepNotReached, aioredis.RedisError, OSError, TimeoutError):
            return None
    return wait


# --- one run --------------------------------------------------------------------------------------------

async def run_once(project: str, ports: Ports, schedule: Schedule, store: Path) -> RunResult:
    parameters = schedule.parameters
    folder = report.run_folder(store, parameters.mode, schedule.seed)
    run_log = [schedule.first_line()]
    say(f"chaos: run seed {schedule.seed}, mode {parameters.mode}: {len(schedule.faults)} faults: "
        + ", ".join(f"{f.label()} @{f.at_s:g}s/{f.for_s:g}s" for f in schedule.faults))
    reset_s = await asyncio.to_thread(reset_stack, project, parameters.mode, run_log,
                                      downstream_mode=parameters.mode if parameters.cascade else None)
    run_log.append(f"reset in {reset_s:.1f} s")
    ids = {service: c.id for service, c in (await asyncio.to_thread(containers, project)).items()}
    if set(SERVICES) - set(ids):
        raise CampaignError(f"containers missing: {sorted(set(SERVICES) - set(ids))}")
    rows: list[dict[str, Any]] = []
    started_wall = time.time()
    started = time.monotonic()
    run = {"schedule": schedule.to_json(), "seed": schedule.seed, "mode": parameters.mode, "project": project,
           "started": started_wall, "endpoint": ENDPOINT, "host": os.uname().nodename, "cpus": os.cpu_count()}
    async with Live(project, ports) as live:
        if parameters.cascade:
            run_log.append(await check_cascade(live, parameters))
        nemesis = Nemesis(live.toxiproxy, live.events, containers=ids, history=rows, admin=live.admin,
                          wait_event=event_waiter(live))
        prober = Prober(ENDPOINT, {"resolver": ports.dns, "authoritative": ports.dns_auth},
                        rate_hz=parameters.probe_rate_hz)
        try:
            async with prober:
                if not await first_answer(prober):
                    run_log.append("the resolver did not answer before the faults; judged as it is")
                rows.append(phase("faults", "the fault phase starts", schedule=len(schedule.faults)))
                phase_started = time.monotonic()
                # One deadline, in a task of its own (dnsrace.deadline): the lab's own Redis calls leave
                # cancel requests in this task that would turn asyncio.timeout's expiry into a crash.
                await within(phase_length_s(schedule) + FAULT_OVERRUN_S,
                             inject_all(nemesis, schedule, phase_started), cancel_grace_s=FAULT_UNWIND_S)
                await nemesis.heal()
                rows.append(phase("recovery", "every fault healed; waiting for recovery"))
                bounds = checker.Bounds.from_run(run)
                await recording.wait_for_recovery(live, prober, bounds)
                recovered = time.time()
                await recording.wait_for_leases(live, bounds)
                await recording.wait_for_clients(live, bounds, since=recovered)
                observation = await recording.final_reads(live)
                rows.append(phase("final", "final reads done"))
        finally:
            # Whatever ended the block (an error, Ctrl-C, SIGTERM), nothing the nemesis did outlives it.
            await asyncio.shield(nemesis.heal())
        recorded, logs = await recording.record(live, project, run, probes=prober.history, nemesis=rows,
                                                observation=observation, started_wall=started_wall)
    verdicts = checker.check_history(recorded, ENDPOINT)
    verdicts[conformance.MODEL] = await asyncio.to_thread(conformance.judge, recorded)
    run_s = time.monotonic() - started
    result = RunResult(folder, schedule, verdicts, sum(1 for r in rows if r.get("type") == "fault_started"
                                                       and r.get("fault") != "all"), run_s, reset_s)
    run_log += [f"run in {run_s:.1f} s", *(f"{v.invariant}: {v.valid}: {' | '.join(v.evidence)}"
                                           for v in verdicts.values())]
    report.write_run(folder, recorded, verdicts, logs, run_log, summary=report.run_summary(result_fields(result)))
    return result


def phase_length_s(schedule: Schedule) -> float:
    """The fault phase lasts until its last fault stops (the storage cut may outlast fault_phase_s)."""
    return max([schedule.parameters.fault_phase_s, *(f.until_s for f in schedule.faults)])


def phase(name: str, why: str, **detail: Any) -> dict[str, Any]:
    return {"type": "phase", "t": time.time(), "phase": name, "why": why, **detail}


async def first_answer(prober: Prober) -> bool:
    deadline = time.monotonic() + FIRST_ANSWER_WITHIN_S
    while time.monotonic() < deadline:
        if any(op["process"] == "resolver" and op["type"] == "ok" for op in prober.history):
            return True
        await asyncio.sleep(0.1)
    return False


def result_fields(result: RunResult) -> dict[str, Any]:
    return {"folder": str(result.folder), "seed": result.schedule.seed, "mode": result.schedule.parameters.mode,
            "faults": [f.label() for f in result.schedule.faults], "faults_started": result.faults_started,
            "valid": result.valid, "run_s": round(result.run_s, 1), "reset_s": round(result.reset_s, 1),
            "verdicts": {name: v.valid for name, v in result.verdicts.items()},
            "measures": {name: v.measures for name, v in result.verdicts.items()}}


# --- the campaign ---------------------------------------------------------------------------------------

async def campaign(args: argparse.Namespace) -> int:
    ports = Ports.from_env()
    store = Path(args.store)
    if args.replay:
        recorded = history.read(Path(args.replay) / "history.jsonl")[0]
        schedule = Schedule.from_json(recorded["schedule"])
        try:
            again = generate(schedule.seed, schedule.parameters)
        except ValueError as refused:   # recorded before a parameter this generator needs (a cascade's (9))
            say(f"chaos: note: this generator cannot draw that seed's schedule now ({refused}); replaying the "
                "recorded one")
            again = schedule
        if again != schedule:
            say("chaos: note: this generator gives another schedule for that seed now; replaying the recorded one")
        schedules = [schedule]
    else:
        parameters = Parameters(mode=args.mode, **({"fault_phase_s": args.fault_phase_s} if args.fault_phase_s else {}))
        # The lock's TTL, K and the self-check's deadline as the running enactors said them
        # (enactor_started), never a copied default: the schedules are drawn around them.
        async with Live(args.project, ports) as live:
            said = await live.enactor_parameters()
            # The lease TTL as dwfm said it (dwfm_started): the storage cut is drawn to outlast it; Network
            # Manager's rate (netmgr_started): the storm is drawn in multiples of it.
            dwfm = await live.dwfm_parameters() if args.cascade else {}
            netmgr = (await live.started_parameters("netmgr_started", "Network Manager", "netmgr")
                      if args.cascade else {})
        parameters = replace(parameters, lock_ttl_s=said.lock_ttl_s, keep_generations=said.keep_generations,
                             self_check_timeout_ms=said.self_check_timeout_ms)
        if args.cascade:
            parameters = replace(parameters, cascade=True, lease_ttl_s=float(dwfm["ttl_s"]),
                                 lease_recovery_bound_s=LEASE_RECOVERY_BOUND_S,
                                 propagate_per_s=float(netmgr["propagate_per_s"]),
                                 client_recovery_bound_s=CLIENT_RECOVERY_BOUND_S)
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
        say(f"chaos: mode {args.mode}, {args.runs} run(s), seeds {seed}..{seed + args.runs - 1}"
            + (f"; the cascade: the lease manager, the load balancer's control and Network Manager in {args.mode} "
               f"(lease TTL {parameters.lease_ttl_s:g} s), the storage node cut for 1.5-2.5 TTLs, (7) within "
               f"{LEASE_RECOVERY_BOUND_S:g} s; a propagation storm of 3-4x Network Manager's "
               f"{parameters.propagate_per_s:g} a second for 40-60 s, (8), and (9) within {CLIENT_RECOVERY_BOUND_S:g} s"
               if args.cascade else "")
            + ("" if args.seed is not None else " (random; SEED= replays them)"))
        schedules = [generate(seed + n, parameters) for n in range(args.runs)]
    results: list[dict[str, Any]] = []
    say(report.row_header(any(s.parameters.cascade for s in schedules)))
    campaign_started = time.monotonic()
    for schedule in schedules:
        result = await run_once(args.project, ports, schedule, store)
        fields = result_fields(result)
        results.append(fields)
        say(report.row(fields))
    wall_s = time.monotonic() - campaign_started
    for line in report.summary(results, wall_s):
        say(line)
    command = (f"make chaos-replay RUN={args.replay}" if args.replay else
               f"make chaos MODE={args.mode} RUNS={args.runs} SEED={schedules[0].seed}"
               + (" CASCADE=1" if args.cascade else "")
               + (f" (--fault-phase-s {args.fault_phase_s:g})" if args.fault_phase_s else ""))
    report.write_campaign(store, results, wall_s, command=command)
    values = [r["valid"] for r in results]
    return 1 if False in values else 2 if checker.UNKNOWN in values else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.chaos", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("legacy", "safe"), default="safe")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--replay", metavar="RUN_DIR", help="rerun the schedule recorded in RUN_DIR/history.jsonl")
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    parser.add_argument("--store", default=str(TOP / "store" / "chaos"), help="where run folders go (store/chaos)")
    parser.add_argument("--fault-phase-s", type=float, default=None, help="the fault phase's length (default 24)")
    parser.add_argument("--cascade", action="store_true",
                        help="the cascade too: dwfm, nlb-control and netmgr in --mode, a cut of the storage node, "
                             "a propagation storm, and (7), (8), (9) judged")
    args = parser.parse_args()
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be 1..1000")
    try:
        return asyncio.run(cancelled_by_sigterm(campaign(args)))
    except CampaignError as error:
        print(f"chaos: cannot run: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("chaos: interrupted; every fault of the run in progress was healed", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 — the harness broke: no verdict, and never the exit status of a violation
        traceback.print_exc()
        print("chaos: the campaign itself failed (above); its faults were healed; no verdict", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
