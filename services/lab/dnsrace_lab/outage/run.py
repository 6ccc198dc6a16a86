"""python3 -m dnsrace_lab.outage — run one scenario on the running stack, record it, and judge it.

    --scenario race | pause | manual-delete      (see scenarios.py: the same faults in either mode)
    --scenario cascade                           the race as the trigger, then EC2's lease manager after
                                                 DNS is back (cascade.py; the enactors must be legacy)
    --scenario cascade-mitigate                  cascade, then the operator's restart alone, then throttle
                                                 plus restart (legacy lease manager)
    --scenario cascade-full                      cascade, then Network Manager's backlog and the load balancer's
                                                 health checks: every impact window of the incident in one run
                                                 (cascade_full.py; the enactors must be legacy)
    --mode legacy | safe                         what the enactors must be running (checked, not set)
    --dwfm-mode legacy | safe                    cascade: what the lease manager must be running (checked)
    --nlb-mode, --netmgr-mode legacy | safe      cascade-full: what the load balancer's control and Network
                                                 Manager must be running (checked)

While the scenario runs, the client probes the endpoint at 20 queries a second on the resolver and on
the authoritative view. The run is recorded as every run of the lab is (recording.py, history.py) and
judged by the one checker (harness/checker/: invariants (1)-(6), with the scenario's bounds, SCENARIO_BOUNDS,
written into the run line; and (M), the model, conformance.py). Its folder is
store/reproduce-outage/<time>-<mode>-<scenario>/ (history.jsonl, results.json, timeline.html, logs/),
and store/latest points at it.

legacy: exit 0 when the outage is reproduced, the scenario's own expectations: race and manual-delete:
        the endpoint answers empty and every enactor crashes on the rollback record, again after its
        restart; pause: the late write moves the endpoint back (seen in dns-admin's audit). The checker's
        verdicts are printed too: they name the invariants the incident breaks.
safe:   exit 0 when the faults did no harm: every invariant held (none broken, none unknown) and the
        scenario's expectation was met (race, pause: the stale write was refused). Otherwise exit 1
        naming what broke.
`make reproduce-outage` resets the stack first and then runs this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from dnsrace.events import Event
from dnsrace.plans import plan_record_name

from dnsrace_lab.harness import checker
from dnsrace_lab.harness import conformance
from dnsrace_lab.harness import recording
from dnsrace_lab.harness import report as run_report
from dnsrace_lab.harness.checker import Bounds
from dnsrace_lab.harness.checker.verdict import CLIENT_RECOVERY_BOUND_S, LEASE_RECOVERY_BOUND_S
from dnsrace_lab.harness.impact import chain, impact_windows
from dnsrace_lab.harness.client import Prober
from dnsrace_lab.harness.nemesis import Nemesis
from dnsrace_lab.outage import cascade as cascade_scenario
from dnsrace_lab.outage import cascade_full
from dnsrace_lab.outage import scenarios
from dnsrace_lab.outage.narrate import narrate, source_excerpt
from dnsrace_lab.outage.scenarios import SLOW_ENACTOR, Report
from dnsrace_lab.stack.live import ENACTORS, ENDPOINT, TOP, Answer, Live, Ports, Probe, StepNotReached, poll
from dnsrace_lab.stack.signals import cancelled_by_sigterm, interrupted

CRASHES_PER_ENACTOR = 2     # crashed, restarted, crashed again the same way
NARRATION_LEAD_S = 4.0      # how much normal operation the story shows before the fault
PROBE_RATE_HZ = 20.0
# What the checker holds each scenario to (checker.Bounds, written into the run line). Both views are
# judged: the authoritative view must never answer empty either, except from a deletion until the
# enactors repair it (within repair_bound_s); the endpoint must reach the newest plan within
# converge_bound_s of the last fault (the campaign's are in generator.Parameters).
SCENARIO_BOUNDS = {
    "race": Bounds(converge_bound_s=20.0, views=("resolver", "authoritative")),
    "pause": Bounds(converge_bound_s=20.0, views=("resolver", "authoritative")),
    "manual-delete": Bounds(converge_bound_s=20.0, repair_bound_s=5.0, views=("resolver", "authoritative")),
    # The cascade's trigger is legacy's outage, which (1)-(6) judge broken; what it is about is (7).
    "cascade": Bounds(converge_bound_s=20.0, lease_recovery_bound_s=LEASE_RECOVERY_BOUND_S),
    "cascade-mitigate": Bounds(converge_bound_s=20.0, lease_recovery_bound_s=LEASE_RECOVERY_BOUND_S),
    # ... and act 2's: the load balancer's capacity (8) and the clients behind it (9).
    "cascade-full": Bounds(converge_bound_s=20.0, lease_recovery_bound_s=LEASE_RECOVERY_BOUND_S,
                           client_recovery_bound_s=CLIENT_RECOVERY_BOUND_S),
}
CASCADES = ("cascade", "cascade-mitigate", "cascade-full")
STORE = TOP / "store" / "reproduce-outage"


async def run(args: argparse.Namespace) -> int:
    ports = Ports.from_env()
    async with Live(args.project, ports) as live:
        modes = await asyncio.to_thread(live.enactor_modes)
        if set(modes.values()) != {args.mode} or set(modes) != set(ENACTORS):
            print(f"reproduce-outage: the enactors run {modes or 'nowhere'}, not mode {args.mode}; "
                  f"`make reproduce-outage MODE={args.mode}` resets the stack into that mode", file=sys.stderr)
            return 2
        cascade = None
        full: cascade_full.Full | None = None
        if args.scenario in CASCADES:
            if args.mode != "legacy":
                print("reproduce-outage: SCENARIO=cascade needs MODE=legacy: its trigger is legacy's DNS outage "
                      "(safe enactors do not empty the endpoint)", file=sys.stderr)
                return 2
            started = await live.dwfm_parameters()
            if started.get("mode") != args.dwfm_mode:
                print(f"reproduce-outage: the lease manager runs DWFM_MODE={started.get('mode')}, not {args.dwfm_mode}; "
                      f"`make reproduce-outage SCENARIO=cascade DWFM_MODE={args.dwfm_mode}` resets it into that mode",
                      file=sys.stderr)
                return 2
            if args.scenario == "cascade-mitigate" and args.dwfm_mode != "legacy":
                print("reproduce-outage: SCENARIO=cascade-mitigate needs DWFM_MODE=legacy: it shows the operator's "
                      "moves on a collapsed legacy lease manager", file=sys.stderr)
                return 2
            cascade = cascade_scenario.Cascade(args.dwfm_mode, started, observe_s=args.observe_s)
            if args.scenario == "cascade-full":
                nlb = await live.started_parameters("nlb_started", "the load balancer's control", "nlb-control")
                netmgr = await live.started_parameters("netmgr_started", "Network Manager", "netmgr")
                wrong = [f"{name}={said.get('mode')}, not {wanted}" for name, said, wanted in
                         (("NLB_MODE", nlb, args.nlb_mode), ("NETMGR_MODE", netmgr, args.netmgr_mode))
                         if said.get("mode") != wanted]
                if wrong:
                    print(f"reproduce-outage: {'; '.join(wrong)}; `make reproduce-outage SCENARIO=cascade-full "
                          f"NLB_MODE={args.nlb_mode} NETMGR_MODE={args.netmgr_mode}` resets them into those designs",
                          file=sys.stderr)
                    return 2
                full = cascade_full.Full(cascade, nlb, netmgr)
        # K and the lock's TTL as the enactors said them (enactor_started), never a copied default.
        parameters = await live.enactor_parameters()
        report = Report(args.scenario, args.mode, parameters.keep_generations)
        print(f"== reproduce-outage: scenario {args.scenario}, enactor mode {args.mode}, cleanup keeps "
              f"K={report.keep_generations}, lock TTL {parameters.lock_ttl_s:g} s ==", flush=True)
        started_wall = time.time()
        run_line = {"scenario": args.scenario, "mode": args.mode, "keep_generations": report.keep_generations,
                    **({"dwfm_mode": args.dwfm_mode, "dwfm": cascade.params} if cascade else {}),
                    **({"nlb": full.nlb, "netmgr": full.netmgr} if full else {}),
                    "probe_rate_hz": PROBE_RATE_HZ, "endpoint": ENDPOINT, "project": args.project,
                    "started": started_wall, "bounds": SCENARIO_BOUNDS[args.scenario].to_json(),
                    "host": os.uname().nodename, "cpus": os.cpu_count()}
        report.first_position = await live.stream_position()
        rows: list[dict[str, Any]] = []
        nemesis = Nemesis(live.toxiproxy, live.events, containers=await asyncio.to_thread(live.container_ids),
                          history=rows, admin=live.admin)
        prober = Prober(ENDPOINT, {"resolver": ports.dns, "authoritative": ports.dns_auth}, rate_hz=PROBE_RATE_HZ)
        restarts_before = await asyncio.to_thread(live.restart_counts)
        observation: dict[str, Any] = {"t": time.time(), "what": "none: the run was cut short"}
        missed: StepNotReached | None = None
        try:
            await live.toxiproxy.reset()   # a clean network before we start
            async with prober:
                try:
                    if full is not None:
                        await cascade_full.play(live, nemesis, report, full)
                    elif cascade is not None:
                        await cascade_scenario.play(live, nemesis, report, cascade)
                    else:
                        await play(live, nemesis, prober, report, parameters.lock_ttl_s, restarts_before)
                except StepNotReached as why:
                    missed = why
                observation = await recording.final_reads(live, restarts_before)
        finally:
            # Whatever happened above, an interrupt (Ctrl-C, SIGTERM) included, no toxic and no paused
            # enactor is left behind. Shielded: a second Ctrl-C does not cut the healing short.
            await asyncio.shield(nemesis.heal())
            if interrupted():
                print("\nreproduce-outage: interrupted; healed every fault it placed: every toxic removed, every "
                      "proxy enabled, no enactor paused (make ps shows the lab's state)", file=sys.stderr, flush=True)
            recorded, logs = await recording.record(live, args.project, run_line, probes=prober.history,
                                                    nemesis=rows, observation=observation,
                                                    started_wall=started_wall, after=report.first_position)
        events = await live.events_since(report.first_position)
    verdicts = checker.check_history(recorded, ENDPOINT)
    verdicts[checker.MODEL] = await asyncio.to_thread(conformance.judge, recorded)
    folder = run_report.run_folder(STORE, args.mode, args.scenario)
    run_report.write_run(folder, recorded, verdicts, logs, report.steps, summary={
        "scenario": args.scenario, "mode": args.mode, "attempts": report.attempts,
        "reproduced": missed is None if args.mode == "legacy" else None, "expectations": report.expectations,
        **({"dwfm_mode": cascade.dwfm_mode, "dns_empty_t": cascade.t_dns_empty, "leases_lapsed_t": cascade.t_lapsed,
            "dns_back_t": cascade.t_dns_back, "leases_at_dns_back": cascade.at_back, "leases_last": cascade.last}
           if cascade else {})})
    if missed is not None:
        print(f"\nNOT REPRODUCED — {missed}\n  history: {folder.relative_to(TOP)}/history.jsonl", file=sys.stderr,
              flush=True)
        return 1
    print_story(report, events, prober.history, folder)
    if full is not None:
        return print_full_verdicts(report, recorded, verdicts, full)
    if cascade is not None:
        return print_cascade_verdicts(report, verdicts, cascade)
    return print_verdicts(report, verdicts)


async def play(live: Live, nemesis: Nemesis, prober: Prober, report: Report, lock_ttl_s: float,
               restarts_before: dict[str, int]) -> None:
    """The scenario, then its own expectations; for safe, the wait until the endpoint has recovered, so
    the history reaches past the checker's bounds."""
    await scenarios.plans_flow(live, report)
    crash_window_start = await live.stream_position()
    if report.scenario == "race":
        await scenarios.race(live, nemesis, report)
    elif report.scenario == "pause":
        await scenarios.pause(live, nemesis, report, lock_ttl_s=lock_ttl_s)
    else:
        await scenarios.manual_delete(live, nemesis, report)
    await nemesis.heal()
    report.step("        every fault healed: the network and the processes are fine from here on")
    if report.mode == "legacy":
        await expect_the_outage(live, report, crash_window_start, restarts_before)
        return
    if report.late_write is not None:
        refused = report.late_write.kind == "batch_rejected"
        report.expect(refused, f"{SLOW_ENACTOR}'s stale write was refused by dns-admin "
                               f"({report.late_write.detail.get('error', 'accepted!')})")
    await recording.wait_for_recovery(live, prober, SCENARIO_BOUNDS[report.scenario])
    report.dig["after"] = await live.query()


# --- legacy: the scenario's own expectations (did the outage happen?) ------------------------------------


async def expect_the_outage(live: Live, report: Report, since: str, restarts_before: dict[str, int]) -> None:
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


# --- the story and the verdict --------------------------------------------------------------------------


def print_story(report: Report, events: list[Event], probes: list[dict[str, Any]], folder: Path) -> None:
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
    if report.mode == "legacy" and report.outage_plan and report.scenario.startswith("cascade"):
        print(f"  fault -> empty answer: {report.t_empty - report.t_fault:.1f} s; the scenario repaired DNS itself "
              "(make repair's fix) once the leases had lapsed")
    elif report.mode == "legacy" and report.outage_plan:
        print(f"  fault -> empty answer: {report.t_empty - report.t_fault:.1f} s")
        print(f"  outage plan:           {report.outage_plan} (deleted while live)")
        print(f"  enactors crashed:      {', '.join(ENACTORS)}; restarts so far: "
              + ", ".join(f"{n} {c}" for n, c in report.restarts.items()))
        print("  nothing repairs the endpoint: every enactor dies building the rollback record, after every restart.")
        print("  the operator must: make repair   (point the endpoint at the newest existing plan, clear rollback)")
    print(f"  history:               {folder.relative_to(TOP)}/history.jsonl  (results.json, timeline.html beside it)")
    print(f"  look:                  dig @127.0.0.1 -p 1053 {ENDPOINT} A    ·    make timeline    ·    make ps")


def _marker_location(marker: str) -> str:
    path = "services/enactor/dnsrace_enactor/legacy.py"
    lines = (TOP / path).read_text().splitlines()
    return f"{path}:{next(n for n, line in enumerate(lines, 1) if marker in line)}"


def print_verdicts(report: Report, verdicts: dict[str, checker.Verdict]) -> int:
    """The checker's verdicts (and the scenario's expectations); safe's exit status."""
    print("\n== verdict (the checker, from the recorded history: DNS probes, dns-admin's audit, events, docker) ==")
    for ok, text in report.expectations:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}  [the scenario's expectation]")
    for verdict in verdicts.values():
        word = "PASS" if verdict.valid is True else "FAIL" if verdict.valid is False else "?   "
        print(f"  {word}  {verdict.title}")
        for line in verdict.evidence:
            print(f"          {line}")
    if report.mode == "legacy":
        broken = [v.title.split(" ", 1)[0] for v in verdicts.values() if v.valid is False]
        print(f"\nLEGACY: the outage reproduced; the checker finds {', '.join(broken) or 'nothing'} broken")
        return 0
    failed = [text for ok, text in report.expectations if not ok]
    failed += [v.title for name, v in verdicts.items() if v.valid is False or (v.valid == checker.UNKNOWN
                                                                                and name != checker.MODEL)]
    print(f"\n{'SAFE: the same faults did no harm' if not failed else 'NOT SAFE: ' + failed[0]}")
    return 0 if not failed else 1


def print_cascade_verdicts(report: Report, verdicts: dict[str, checker.Verdict],
                           cascade: cascade_scenario.Cascade) -> int:
    """The cascade is judged on the lease manager: the scenario's expectations and the checker's (7).
    (1)-(6) are printed, and broken, as the legacy trigger breaks them."""
    print("\n== verdict (the lease manager: dwfm's figures, and the checker's (7) from the recorded history) ==")
    for ok, text in report.expectations:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}  [the scenario's expectation]")
    recover = verdicts.get("leases-recover")
    for verdict in verdicts.values():
        word = "PASS" if verdict.valid is True else "FAIL" if verdict.valid is False else "?   "
        print(f"  {word}  {verdict.title}")
        if verdict is recover:
            for text in verdict.evidence:
                print(f"          {text}")
    failed = [text for ok, text in report.expectations if not ok]
    if cascade.dwfm_mode == "legacy":
        if recover is None or recover.valid is not False:
            failed.append(f"the checker's (7) is {recover.valid if recover else 'missing'}, not broken")
        told = ("LEGACY DWFM: collapsed after DNS came back; a restart alone collapsed again; throttle plus "
                "restart recovered (what AWS did at 4:14 AM)" if report.scenario == "cascade-mitigate" else
                "LEGACY DWFM: DNS came back and the leases stayed collapsed (congestive collapse)")
        print(f"\n{told if not failed else 'NOT REPRODUCED: ' + failed[0]}")
    else:
        if recover is None or recover.valid is not True:
            failed.append(f"the checker's (7) is {recover.valid if recover else 'missing'}, not held")
        print(f"\n{'SAFE DWFM: the leases came back by themselves after DNS did' if not failed else 'NOT SAFE: ' + failed[0]}")
    return 0 if not failed else 1


def print_full_verdicts(report: Report, recorded: list[dict[str, Any]], verdicts: dict[str, checker.Verdict],
                        full: cascade_full.Full) -> int:
    """cascade-full: the impact windows as one chain, then (7)-(9). All legacy downstream: the networking,
    capacity and clients windows must be there and (8), (9) broken; all safe: none of them, (7)-(9) held."""
    windows = impact_windows(recorded)
    origin = min((float(r["t"]) for r in recorded[1:] if r.get("source") == "client"), default=0.0)
    print(f"\n== the blast radius ({full.designs}): one window per layer that broke, from the history ==")
    for text in chain(windows, origin):
        print(f"  {text}")
    print("\n== verdict (the checker, from the recorded history) ==")
    for ok, text in report.expectations:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}  [the scenario's expectation]")
    downstream = ("leases-recover", "capacity-held", "clients-recover")
    for name, verdict in verdicts.items():
        word = "PASS" if verdict.valid is True else "FAIL" if verdict.valid is False else "?   "
        print(f"  {word}  {verdict.title}")
        if name in downstream:
            for text in verdict.evidence:
                print(f"          {text}")
    layers = {w.layer for w in windows}
    after_dns = {"networking", "capacity", "clients"}
    failed = [text for ok, text in report.expectations if not ok]
    legacy = full.leases.dwfm_mode == "legacy" and full.nlb.get("mode") == "legacy" and full.netmgr.get("mode") == "legacy"
    if legacy:
        failed += [f"no {layer} window" for layer in sorted(after_dns - layers)]
        failed += [f"the checker's {verdicts[name].title.split(' ', 1)[0]} is {verdicts[name].valid}, not broken"
                   for name in ("capacity-held", "clients-recover") if verdicts[name].valid is not False]
        told = ("LEGACY: every window of the incident, one after the other: DNS empty, the leases collapsed, new "
                "instances without networking, answering targets taken out, clients failing")
        print(f"\n{told if not failed else 'NOT REPRODUCED: ' + failed[0]}")
    elif full.all_safe:
        failed += [f"a {layer} window" for layer in sorted(after_dns & layers)]
        failed += [f"the checker's {verdicts[name].title.split(' ', 1)[0]} is {verdicts[name].valid}, not held"
                   for name in downstream if verdicts[name].valid is not True]
        told = "SAFE DOWNSTREAM: the same faults left the DNS window and the leases lapsing under it, nothing after"
        print(f"\n{told if not failed else 'NOT SAFE: ' + failed[0]}")
    else:
        print(f"\nMIXED DESIGNS ({full.designs}): the windows and verdicts above are the result; nothing is expected")
    return 0 if not failed else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.outage", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("race", "pause", "manual-delete", *CASCADES), default="race")
    parser.add_argument("--mode", choices=("legacy", "safe"), default="legacy")
    parser.add_argument("--dwfm-mode", choices=("legacy", "safe"), default="legacy")
    parser.add_argument("--nlb-mode", choices=("legacy", "safe"), default="legacy")
    parser.add_argument("--netmgr-mode", choices=("legacy", "safe"), default="legacy")
    parser.add_argument("--observe-s", type=float, default=None,
                        help="cascade, legacy: watch this long after DNS is back, ending early if the leases recover "
                             "(bench/dwfm_sweep.sh)")
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    try:
        status = asyncio.run(cancelled_by_sigterm(run(parser.parse_args())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    return 130 if interrupted() else status   # a signal that came as the run was ending still counts


if __name__ == "__main__":
    sys.exit(main())
