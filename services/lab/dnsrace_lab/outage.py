"""python3 -m dnsrace_lab.outage — run one scenario on the running stack and judge it from outside.

    --scenario race | pause | manual-delete      (see scenarios.py: the same faults in either mode)
    --mode legacy | safe                         what the enactors must be running (checked, not set)

While the scenario runs, the client probes the endpoint at 20 queries a second on the resolver and on
the authoritative view, and records every answer; the history is written to store/reproduce-outage/.

legacy: exit 0 when the outage is reproduced — race and manual-delete: the endpoint answers empty and
        every enactor crashes on the rollback record, again after its restart; pause: the late write
        moves the endpoint back (seen in dns-admin's audit).
safe:   exit 0 when the faults did no harm, judged from outside: the resolver never answered empty
        (manual-delete: the endpoint was repaired within REPAIR_BOUND_S by the enactors themselves),
        the audit shows the endpoint never went back in generation, it ends on the newest plan, and no
        enactor restarted. Otherwise exit 1 naming what broke.
`make reproduce-outage` resets the stack first and then runs this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Coroutine
from typing import Any
from pathlib import Path

from dnsrace.events import Event
from dnsrace.plans import plan_id, plan_record_name

from . import checker, scenarios
from .client import Prober
from .live import ENACTORS, ENDPOINT, TOP, Answer, Live, Ports, Probe, StepNotReached, poll
from .narrate import narrate, source_excerpt
from .nemesis import Nemesis
from .scenarios import SLOW_ENACTOR, Report

CRASHES_PER_ENACTOR = 2     # crashed, restarted, crashed again the same way
NARRATION_LEAD_S = 4.0      # how much normal operation the story shows before the fault
REPAIR_BOUND_S = 5.0        # safe, manual-delete: the authoritative answer is back within this
SETTLE_BOUND_S = 20.0       # safe: the endpoint reaches the newest plan within this after the faults
PROBE_RATE_HZ = 20.0


async def run(args: argparse.Namespace) -> int:
    ports = Ports.from_env()
    async with Live(args.project, ports) as live:
        modes = await asyncio.to_thread(live.enactor_modes)
        if set(modes.values()) != {args.mode} or set(modes) != set(ENACTORS):
            print(f"reproduce-outage: the enactors run {modes or 'nowhere'}, not mode {args.mode}; "
                  f"`make reproduce-outage MODE={args.mode}` resets the stack into that mode", file=sys.stderr)
            return 2
        # K and the lock's TTL as the enactors said them (enactor_started), never a copied default.
        parameters = await live.enactor_parameters()
        report = Report(args.scenario, args.mode, parameters.keep_generations)
        print(f"== reproduce-outage: scenario {args.scenario}, enactor mode {args.mode}, cleanup keeps "
              f"K={report.keep_generations}, lock TTL {parameters.lock_ttl_s:g} s ==", flush=True)
        report.first_position = await live.stream_position()
        nemesis = Nemesis(live.toxiproxy, live.events, containers=await asyncio.to_thread(live.container_ids))
        audit_from = await live.audit_position()
        prober = Prober(ENDPOINT, {"resolver": ports.dns, "authoritative": ports.dns_auth}, rate_hz=PROBE_RATE_HZ)
        verdicts: list[str] = []
        try:
            await live.toxiproxy.reset()   # a clean network before we start
            async with prober:
                await scenarios.plans_flow(live, report)
                restarts_before = await asyncio.to_thread(live.restart_counts)
                crash_window_start = await live.stream_position()
                if args.scenario == "race":
                    await scenarios.race(live, nemesis, report)
                elif args.scenario == "pause":
                    await scenarios.pause(live, nemesis, report, lock_ttl_s=parameters.lock_ttl_s)
                else:
                    await scenarios.manual_delete(live, report)
                await nemesis.heal()
                report.step("        every fault healed: the network and the processes are fine from here on")
                if args.mode == "legacy":
                    await judge_legacy(live, report, crash_window_start, restarts_before)
                else:
                    verdicts = await judge_safe(live, report, prober, audit_from, restarts_before)
        except StepNotReached as missed:
            print(f"\nNOT REPRODUCED — {missed}", file=sys.stderr, flush=True)
            return 1
        finally:
            # Whatever happened above, an interrupt (Ctrl-C, SIGTERM) included, no toxic and no paused
            # enactor is left behind. Shielded: a second Ctrl-C does not cut the healing short.
            await asyncio.shield(nemesis.heal())
            if interrupted():
                print("\nreproduce-outage: interrupted; healed every fault it placed: every toxic removed, every "
                      "proxy enabled, no enactor paused (make ps shows the lab's state)", file=sys.stderr, flush=True)
            store = write_history(report, prober.history, await live.events_since(report.first_position),
                                  await live.audit_since(audit_from))
        events = await live.events_since(report.first_position)
    print_story(report, events, prober.history, store)
    if args.mode == "safe":
        return print_verdicts(verdicts)
    return 0


# --- judging --------------------------------------------------------------------------------------------


async def judge_legacy(live: Live, report: Report, since: str, restarts_before: dict[str, int]) -> None:
    if report.scenario == "pause":
        if report.late_write is None or report.late_write.kind != "batch_accepted":
            raise StepNotReached("step 5: the late write", "dns-admin did not accept enactor-a's late batch")
        # Judged from dns-admin's audit, not from the enactor's own story: the endpoint went back.
        moves = await poll("the endpoint moves forward again", _moved_on_after_late_write(live), within_s=30)
        back = next(i for i, m in enumerate(moves) if m.backwards and m.client == SLOW_ENACTOR)
        late, fix = moves[back], moves[back + 1]
        report.step(f"step 6  dns-admin's audit: {late.change_id} by {late.client} moved the endpoint BACK from "
                    f"plan {late.before} to plan {late.after}; clients got the stale plan for {fix.t - late.t:.1f} s, "
                    f"until {fix.client}'s {fix.change_id} moved it to plan {fix.after}")
        report.dig["after"] = await live.query()
        return
    await poll("the authoritative view answers empty", _empty(live, authoritative_view=True), within_s=15)
    report.dig["during"] = await poll("the resolver answers empty", _empty(live), within_s=15)
    report.step(f"        dig now: {report.dig['during'].summary()}")
    report.dig["plan"] = await live.query(plan_record_name(report.outage_plan or "", ENDPOINT), authoritative_view=True)
    await everyone_crashes(live, report, since, restarts_before)
    report.dig["after"] = await live.query()
    if report.dig["after"].addresses:
        raise StepNotReached("the end", "the endpoint recovered by itself; the outage did not stick")


async def judge_safe(live: Live, report: Report, prober: Prober, audit_from: int,
                     restarts_before: dict[str, int]) -> list[str]:
    """Every verdict is a line starting PASS or FAIL; measured from outside the enactors."""
    verdicts: list[str] = []
    if report.scenario == "manual-delete":
        # From the probes: the authoritative view must be seen empty (CoreDNS loads the deletion within
        # its 1 s reload) and then answering again; the repair time is the end of that window.
        window = await poll("the authoritative view answers empty, then again", _window_closed(
            prober, "authoritative", report.t_fault), within_s=60)
        repaired_s = window.end - report.t_fault
        verdicts.append(_verdict(repaired_s <= REPAIR_BOUND_S,
                                 f"the enactors repaired the endpoint {repaired_s:.1f} s after the deletion "
                                 f"(bound {REPAIR_BOUND_S:.0f} s; the authoritative view answered empty for "
                                 f"{window.seconds:.1f} s)"))
        await poll("the resolver answers again", _answering(live, False), within_s=60)
    elif report.late_write is not None:
        refused = report.late_write.kind == "batch_rejected"
        verdicts.append(_verdict(refused, f"{SLOW_ENACTOR}'s stale write was refused by dns-admin "
                                          f"({report.late_write.detail.get('error', 'accepted!')})"))
    # Settle: the faults are over; the endpoint must reach the newest plan on its own.
    settled = await _settle(live)
    verdicts.append(_verdict(settled is not None, f"the endpoint reached the newest plan ({settled or 'never'}) "
                                                  f"within {SETTLE_BOUND_S:.0f} s of the last fault"))
    report.dig["after"] = await live.query()
    history = list(prober.history)
    for process in ("resolver", "authoritative"):
        windows = checker.empty_windows(history, process)
        rate = checker.count_rate(history, process)
        probes = sum(1 for op in history if op["process"] == process and op["type"] == "invoke")
        if report.scenario == "manual-delete":
            total = sum(w.seconds for w in windows)
            print(f"        {process}: answered empty for {total:.1f} s in {len(windows)} window(s) "
                  f"({probes} probes, {rate:.0f}/s)")
        else:
            verdicts.append(_verdict(not windows and rate >= 10,
                                     f"the {process} never answered empty: {probes} probes at {rate:.0f}/s, "
                                     f"{sum(w.probes for w in windows)} empty"))
    moves = checker.endpoint_moves(await live.audit_since(0), ENDPOINT)
    recent = [m for m in moves if m.t >= report.t_fault - NARRATION_LEAD_S]
    backwards = checker.backward_moves(recent)
    verdicts.append(_verdict(not backwards, "the endpoint never went back in generation (dns-admin's audit, "
                             f"{len(recent)} moves)" + "".join(f"; BACK {m.before}->{m.after} by {m.client} in "
                                                              f"{m.change_id}" for m in backwards)))
    restarts = await asyncio.to_thread(live.restart_counts)
    crashed = [e for e in await live.events_since(report.first_position) if e.kind == "enactor_crashed"]
    same = all(restarts.get(n) == restarts_before.get(n) for n in ENACTORS)
    verdicts.append(_verdict(same and not crashed, f"no enactor restarted or crashed (restarts {restarts})"))
    del audit_from  # the judgement replays the whole audit: a move is only meaningful against the one before
    return verdicts


async def _settle(live: Live) -> str | None:
    deadline = time.monotonic() + SETTLE_BOUND_S
    while time.monotonic() < deadline:
        alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
        newest = plan_id(max(await live.newest_generation(), 1))
        answer = await live.query(authoritative_view=True)
        if alias is not None and alias.target == plan_record_name(newest, ENDPOINT) and answer.addresses:
            return newest
        await asyncio.sleep(0.2)
    return None


def _verdict(ok: bool, text: str) -> str:
    return f"{'PASS' if ok else 'FAIL'}  {text}"


def print_verdicts(verdicts: list[str]) -> int:
    print("\n== verdict (judged from outside: DNS probes, dns-admin's audit, docker) ==")
    for line in verdicts:
        print(f"  {line}")
    failed = [v for v in verdicts if v.startswith("FAIL")]
    print(f"\n{'SAFE: the same faults did no harm' if not failed else 'NOT SAFE: ' + failed[0][6:]}")
    return 0 if not failed else 1


async def everyone_crashes(live: Live, report: Report, since: str, restarts_before: dict[str, int]) -> None:
    """Every enactor crashes on the rollback record, is restarted, and crashes the same way."""
    crashes: dict[str, list[Event]] = {name: [] for name in ENACTORS}

    def enough(event: Event) -> bool:
        on_rollback = "rollback." in str(event.detail.get("message", ""))
        if event.kind == "enactor_crashed" and event.service in crashes and on_rollback and event.t >= report.t_empty:
            crashes[event.service].append(event)
        return all(len(c) >= CRASHES_PER_ENACTOR for c in crashes.values())

    await live.wait_event(since, f"every enactor crashes {CRASHES_PER_ENACTOR} times", enough, within_s=90)
    exceptions = {e.detail.get("exception") for c in crashes.values() for e in c}
    if exceptions != {"AliasTargetMissing"}:
        raise StepNotReached("the crashes", f"enactors crashed with {sorted(map(str, exceptions))}, "
                                            "not only AliasTargetMissing on the rollback record")
    report.crash = crashes[ENACTORS[1]][0]
    counts = await poll("restart counts rise", _restarted(live, restarts_before), within_s=30)
    report.restarts = {name: counts[name] - restarts_before.get(name, 0) for name in ENACTORS}
    report.step("step 6  every enactor crashed on the rollback record and crashed again after its restart: "
                + ", ".join(f"{name} {len(c)} crashes" for name, c in crashes.items()))


def _restarted(live: Live, before: dict[str, int]) -> Probe[dict[str, int]]:
    async def probe() -> dict[str, int] | None:
        counts = await asyncio.to_thread(live.restart_counts)
        return counts if all(counts.get(n, 0) > before.get(n, 0) for n in ENACTORS) else None
    return probe


def _window_closed(prober: Prober, process: str, since: float) -> Probe[checker.EmptyWindow]:
    async def probe() -> checker.EmptyWindow | None:
        windows = [w for w in checker.empty_windows(list(prober.history), process) if w.start >= since and w.closed]
        return windows[0] if windows else None
    return probe


def _moved_on_after_late_write(live: Live) -> Probe[list[checker.Move]]:
    async def probe() -> list[checker.Move] | None:
        moves = checker.endpoint_moves(await live.audit_since(0), ENDPOINT)
        back = [i for i, m in enumerate(moves) if m.backwards and m.client == SLOW_ENACTOR]
        return moves if back and back[-1] + 1 < len(moves) else None
    return probe


def _empty(live: Live, authoritative_view: bool = False) -> Probe[Answer]:
    async def probe() -> Answer | None:
        answer = await live.query(authoritative_view=authoritative_view)
        return answer if not answer.addresses else None
    return probe


def _answering(live: Live, authoritative_view: bool) -> Probe[Answer]:
    async def probe() -> Answer | None:
        answer = await live.query(authoritative_view=authoritative_view)
        return answer if answer.addresses else None
    return probe


# --- the record and the story ---------------------------------------------------------------------------


def write_history(report: Report, probes: list[dict[str, object]], events: list[Event],
                  audit: list[dict[str, object]]) -> Path:
    """store/reproduce-outage/<time>-<mode>-<scenario>/history.jsonl: probes, events and audit, by time."""
    folder = TOP / "store" / "reproduce-outage" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{report.mode}-{report.scenario}"
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = [{**p, "source": "client"} for p in probes]
    rows += [{**e.to_json(), "source": "event"} for e in events]
    rows += [{**a, "source": "audit"} for a in audit]
    rows.sort(key=lambda row: float(row.get("t") or 0))
    with open(folder / "history.jsonl", "w") as out:
        out.write(json.dumps({"source": "run", "scenario": report.scenario, "mode": report.mode,
                              "keep_generations": report.keep_generations, "probe_rate_hz": PROBE_RATE_HZ}) + "\n")
        for row in rows:
            out.write(json.dumps(row, default=str) + "\n")
    latest = folder.parent / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(folder.name)
    return folder


def print_story(report: Report, events: list[Event], probes: list[dict[str, object]], store: Path) -> None:
    print("\n== timeline (from the event stream, from just before the fault) ==")
    events = [e for e in events if e.t >= report.t_fault - NARRATION_LEAD_S]
    focus = [SLOW_ENACTOR, report.fast_enactor] if report.scenario in ("race", "pause") else []
    for line in narrate(events, focus=[f for f in focus if f], outage_plan=report.outage_plan):
        print(line)
    print(f"\n== dig @127.0.0.1 -p 1053 {ENDPOINT} A ==")
    for moment in ("before", "during", "after"):
        if moment in report.dig:
            print(f"  {moment:<7} {report.dig[moment].summary()}")
    if "plan" in report.dig:
        plan_answer = report.dig["plan"]
        print(f"  {plan_answer.name}: status {plan_answer.rcode} — the name itself is gone (NXDOMAIN), while the "
              f"endpoint still exists as a name with children (rollback., plan-…), so it answers NOERROR with no "
              f"records (NODATA)")
    late = report.late_write
    if late is not None and late.kind == "batch_rejected":
        print("\n== the stale write, and the DELETE that refused it ==")
        print(f"  {late.detail.get('error')}: {late.detail.get('message')}")
        print("  the batch DELETEs the alias exactly as enactor-a read it at its check; the endpoint had moved since,")
        print("  so the DELETE did not match and dns-admin (as Route 53 would) refused the whole batch")
    crash = report.crash
    if crash is not None:
        print("\n== the line that turns a missing plan into a total outage ==")
        print(f"  {crash.detail.get('exception')}: {crash.detail.get('message')}")
        print(f"  at {crash.detail.get('protocol_at')} in {crash.detail.get('protocol_function')} "
              f"(raised at {crash.detail.get('raised_at')})")
        for line in source_excerpt(str(crash.detail.get("protocol_at")), context=4):
            print(f"  {line}")
        print("  … and the change it could not survive, built a few lines above:")
        for line in source_excerpt(_marker_location("THE BUG (1/2)"), context=1, after=3):
            print(f"  {line}")
    print("\n== summary ==")
    print(f"  scenario:              {report.scenario}, mode {report.mode} (attempts: {report.attempts})")
    resolver = checker.empty_windows(probes, "resolver")
    print(f"  resolver probes:       {sum(1 for p in probes if p.get('process') == 'resolver' and p.get('type') == 'invoke')}"
          f", empty in {len(resolver)} window(s)" + (f", first at +{resolver[0].start - report.t_fault:.1f} s" if resolver else ""))
    if report.mode == "legacy" and report.outage_plan:
        print(f"  fault -> empty answer: {report.t_empty - report.t_fault:.1f} s")
        print(f"  outage plan:           {report.outage_plan} (deleted while live)")
        print(f"  enactors crashed:      {', '.join(ENACTORS)}; restarts so far: "
              + ", ".join(f"{n} {c}" for n, c in report.restarts.items()))
        print("  nothing repairs the endpoint: every enactor dies building the rollback record, after every restart.")
        print("  the operator must: make repair   (point the endpoint at the newest existing plan, clear rollback)")
    print(f"  history:               {store.relative_to(TOP)}/history.jsonl")
    print(f"  look:                  dig @127.0.0.1 -p 1053 {ENDPOINT} A    ·    make timeline    ·    make ps")


def _marker_location(marker: str) -> str:
    path = "services/enactor/dnsrace_enactor/legacy.py"
    lines = (TOP / path).read_text().splitlines()
    return f"{path}:{next(n for n, line in enumerate(lines, 1) if marker in line)}"


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


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.outage", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("race", "pause", "manual-delete"), default="race")
    parser.add_argument("--mode", choices=("legacy", "safe"), default="legacy")
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    try:
        status = asyncio.run(cancelled_by_sigterm(run(parser.parse_args())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    return 130 if interrupted() else status   # a signal that came as the run was ending still counts


if __name__ == "__main__":
    sys.exit(main())
