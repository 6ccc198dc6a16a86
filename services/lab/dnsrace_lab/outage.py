"""python3 -m dnsrace_lab.outage — reproduce the October 2025 outage on the running stack.

    --scenario race           (default) one enactor is slowed through Toxiproxy until it applies an
                              ancient plan over a new one; a fast enactor's cleanup deletes it
    --scenario manual-delete  no race: an operator deletes the live plan's record set by mistake

Either way the endpoint ends up answering empty and every enactor crashes on the rollback record,
again after each restart. Each step waits for its evidence (events, DNS answers, restart counts)
within a bound; the exit status is 0 only when every step happened, else 1 naming the step that did not.
`make reproduce-outage` resets the stack first (down, up) and then runs this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field

from dnsrace.events import Event
from dnsrace.plans import generation_of_plan_id, plan_id, plan_record_name
from dnsrace.records import Change, ChangeBatch

from .live import ENACTORS, ENDPOINT, Answer, Live, Ports, StepNotReached, poll
from .narrate import narrate, source_excerpt
from .nemesis import Nemesis

SLOW_ENACTOR = "enactor-a"
RACE_ATTEMPTS_MAX = 3       # the interleaving is a real race; a missed one is retried, and counted
CRASHES_PER_ENACTOR = 2     # crashed, restarted, crashed again the same way
NARRATION_LEAD_S = 4.0      # how much normal operation the story shows before the fault


@dataclass
class Report:
    scenario: str
    keep_generations: int
    steps: list[str] = field(default_factory=list)
    dig: dict[str, Answer] = field(default_factory=dict)
    t_fault: float = 0.0
    t_empty: float = 0.0
    outage_plan: str | None = None
    attempts: int = 0
    crash: Event | None = None
    restarts: dict[str, int] = field(default_factory=dict)
    first_position: str = "0-0"

    def step(self, text: str) -> None:
        self.steps.append(text)
        print(text, flush=True)


def generation(plan: str | None) -> int:
    return generation_of_plan_id(plan) if plan else 0


async def plans_flow(live: Live, report: Report) -> None:
    """Step 1: plans flow and every enactor applies some."""
    since = await live.stream_position()
    applied: set[str] = set()

    def each_enactor_pointed(event: Event) -> bool:
        if event.kind == "endpoint_pointed":
            applied.add(event.service)
        return applied >= set(ENACTORS)

    await live.wait_event(since, "step 1: all three enactors apply plans", each_enactor_pointed, within_s=90)
    report.dig["before"] = await poll("step 1: the endpoint answers", _answers(live), within_s=15)
    report.step(f"step 1  plans flow; {', '.join(sorted(applied))} all applied plans. "
                f"dig: {report.dig['before'].summary()}")


def _answers(live: Live):  # type: ignore[no-untyped-def]
    async def probe() -> Answer | None:
        answer = await live.query()
        return answer if answer.addresses else None
    return probe


async def race(live: Live, nemesis: Nemesis, report: Report) -> None:
    k = report.keep_generations
    since = await live.stream_position()
    for attempt in range(1, RACE_ATTEMPTS_MAX + 1):
        report.attempts = attempt
        # Step 2 begins as in the incident: the enactor has checked plan N and is now refused the lock
        # by a peer applying the same plan. While it backs off, its path to dns-admin is held: every
        # write it sends from here on waits inside Toxiproxy, however long it keeps believing it is current.
        refused = await live.wait_event(
            since, f"step 2: {SLOW_ENACTOR} checks a plan and is refused the lock",
            lambda e: e.service == SLOW_ENACTOR and e.kind == "lock_refused", within_s=120)
        await nemesis.hold(SLOW_ENACTOR)
        report.t_fault = time.time()
        ancient = refused.plan
        assert ancient is not None
        report.step(f"step 2  {SLOW_ENACTOR} checked {ancient} is newer than live, was refused the lock "
                    f"(held by {refused.detail.get('held_by')}) and backs off; its writes to dns-admin now "
                    f"wait inside Toxiproxy")
        overtaken = await live.wait_event(
            since, f"step 2: the other enactors apply more than K={k} plans newer than {ancient}",
            lambda e: (e.kind == "endpoint_pointed" and e.service != SLOW_ENACTOR
                       and generation(e.plan) > generation(ancient) + k), within_s=120)
        history = await live.events_since(since)
        if any(e.service == SLOW_ENACTOR and e.kind == "endpoint_pointed" and e.plan == ancient for e in history):
            # Its writes left before the hold (its backoff was shorter than our reaction): no stale write.
            await nemesis.release(SLOW_ENACTOR)
            report.step(f"        attempt {attempt}: {SLOW_ENACTOR} wrote {ancient} before the hold; trying again")
            since = await live.stream_position()
            continue
        report.step(f"        the others moved on: {overtaken.service} pointed the endpoint at {overtaken.plan} "
                    f"({generation(overtaken.plan) - generation(ancient)} generations past {ancient})")
        # Let both fast enactors finish with that plan (apply and its cleanup, or skip it): the held
        # writes then land in the quiet stretch before the next plan, where only idle-pass cleanups run.
        fast = set(ENACTORS) - {SLOW_ENACTOR}
        finished: set[str] = set()

        def fast_ones_done(event: Event) -> bool:
            if event.plan == overtaken.plan and event.service in fast and event.kind in (
                    "apply_finished", "plan_skipped", "lock_gave_up"):
                finished.add(event.service)
            return finished == fast

        await live.wait_event(since, f"step 2: the fast enactors finish with {overtaken.plan}", fast_ones_done,
                              within_s=15)

        # Step 3: let the held writes through.
        released_at = await live.stream_position()
        await nemesis.release(SLOW_ENACTOR)
        backward = await live.wait_event(
            released_at, f"step 3: {SLOW_ENACTOR} points the endpoint at {ancient}",
            lambda e: e.service == SLOW_ENACTOR and (
                (e.kind == "endpoint_pointed" and e.plan == ancient) or e.kind in ("enactor_crashed", "lock_gave_up")),
            within_s=60)
        if backward.kind != "endpoint_pointed":
            report.step(f"        attempt {attempt}: {SLOW_ENACTOR} did not write ({backward.kind}); trying again")
            since = released_at
            continue
        newest = await live.newest_generation()
        report.step(f"step 3  {SLOW_ENACTOR} pointed the endpoint at {ancient} — newest is {plan_id(newest)}: "
                    f"its check was true when made and stale when acted on")

        # Step 4: a fast enactor's cleanup deletes the ancient plan while it is live.
        deleted = await live.wait_event(
            released_at, f"step 4: a cleanup deletes {ancient}",
            lambda e: e.kind == "cleanup_deleted" and e.plan == ancient, within_s=30)
        if not await points_at_missing(live, ancient):
            report.step(f"        attempt {attempt}: the endpoint had moved on before {deleted.service}'s cleanup "
                        f"deleted {ancient}; no outage this time, trying again")
            since = await live.stream_position()
            continue
        report.outage_plan = ancient
        report.t_empty = deleted.t
        report.step(f"step 4  {deleted.service}'s cleanup deleted {ancient} (more than {k} generations old) "
                    f"while it was the live plan: the endpoint points at nothing")
        break
    else:
        raise StepNotReached("step 3/4: the race", f"no outage in {RACE_ATTEMPTS_MAX} attempts")
    await nemesis.heal()
    report.step("        every fault healed: the network is fine from here on")


async def manual_delete(live: Live, report: Report) -> None:
    """The trigger with no race: delete the live plan's record set, as an operator's mistake would."""
    report.t_fault = time.time()
    for attempt in range(1, RACE_ATTEMPTS_MAX + 1):
        report.attempts = attempt
        since = await live.stream_position()
        created = await live.wait_event(since, "a new plan", lambda e: e.kind == "plan_created", within_s=30)
        done: set[str] = set()

        def every_enactor_done(event: Event) -> bool:
            if event.plan == created.plan and event.kind in ("endpoint_pointed", "plan_skipped", "lock_gave_up"):
                done.add(event.service)
            return done >= set(ENACTORS)

        # Delete only once all three are done with this plan: no late re-apply can recreate it.
        await live.wait_event(since, f"every enactor done with {created.plan}", every_enactor_done, within_s=15)
        alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
        if alias is None or alias.target is None:
            raise StepNotReached("manual delete", "the endpoint has no alias to follow")
        live_plan = alias.target.split(".", 1)[0]
        record_set = await live.admin.get_record_set(alias.target, "A")
        if record_set is None:
            raise StepNotReached("manual delete", f"{alias.target} is already missing")
        await live.events.emit("operator_deleted", plan=live_plan, why="manual deletion by mistake")
        result = await live.admin.submit(ChangeBatch(changes=(Change("DELETE", record_set),),
                                                     comment=f"operator: delete {live_plan} (by mistake)",
                                                     client="operator"))
        report.step(f"step 2  an operator deleted {live_plan}'s record set ({result.change_id}) — the live plan")
        if not await points_at_missing(live, live_plan):
            report.step(f"        attempt {attempt}: the endpoint had already moved past {live_plan}; again")
            continue
        report.outage_plan = live_plan
        report.t_empty = time.time()
        return
    raise StepNotReached("step 2: manual delete", f"the live plan kept moving in {RACE_ATTEMPTS_MAX} attempts")


async def points_at_missing(live: Live, plan: str) -> bool:
    """Does the endpoint alias (in dns-admin, the source of truth) name `plan`, whose record set is gone?

    Asked of dns-admin rather than DNS: CoreDNS picks up the zone within its 1 s reload, so a DNS
    answer right now may still be the one from before. The DNS answers are checked afterwards, with a bound.
    """
    alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
    target = plan_record_name(plan, ENDPOINT)
    return alias is not None and alias.target == target and await live.admin.get_record_set(target, "A") is None


async def everyone_crashes(live: Live, report: Report, since: str, restarts_before: dict[str, int]) -> None:
    """Step 5: every enactor crashes on the rollback record, is restarted, and crashes the same way."""
    crashes: dict[str, list[Event]] = {name: [] for name in ENACTORS}

    def enough(event: Event) -> bool:
        on_rollback = "rollback." in str(event.detail.get("message", ""))
        if event.kind == "enactor_crashed" and event.service in crashes and on_rollback and event.t >= report.t_empty:
            crashes[event.service].append(event)
        return all(len(c) >= CRASHES_PER_ENACTOR for c in crashes.values())

    await live.wait_event(since, f"step 5: every enactor crashes {CRASHES_PER_ENACTOR} times", enough, within_s=90)
    exceptions = {e.detail.get("exception") for c in crashes.values() for e in c}
    if exceptions != {"AliasTargetMissing"}:
        raise StepNotReached("step 5", f"enactors crashed with {sorted(map(str, exceptions))}, "
                                       "not only AliasTargetMissing on the rollback record")
    report.crash = crashes["enactor-b"][0]
    counts = await poll("step 5: restart counts rise", _restarted(live, restarts_before), within_s=30)
    report.restarts = {name: counts[name] - restarts_before.get(name, 0) for name in ENACTORS}
    report.step(f"step 5  every enactor crashed on the rollback record and crashed again after its restart: "
                + ", ".join(f"{name} {len(c)} crashes" for name, c in crashes.items()))


def _restarted(live: Live, before: dict[str, int]):  # type: ignore[no-untyped-def]
    async def probe() -> dict[str, int] | None:
        counts = await asyncio.to_thread(live.restart_counts)
        return counts if all(counts.get(n, 0) > before.get(n, 0) for n in ENACTORS) else None
    return probe


async def run(args: argparse.Namespace) -> int:
    ports = Ports.from_env()
    report = Report(args.scenario, int(os.environ.get("CLEANUP_KEEP_GENERATIONS") or 5))
    print(f"== reproduce-outage: scenario {args.scenario}, enactor mode legacy, cleanup keeps K={report.keep_generations} ==",
          flush=True)
    async with Live(args.project, ports) as live:
        report.first_position = await live.stream_position()
        nemesis = Nemesis(live.toxiproxy, live.events)
        try:
            await live.toxiproxy.reset()   # a clean network before we start
            await plans_flow(live, report)
            restarts_before = await asyncio.to_thread(live.restart_counts)
            crash_window_start = await live.stream_position()
            if args.scenario == "race":
                await race(live, nemesis, report)
            else:
                await manual_delete(live, report)
            await poll("step 4: the authoritative view answers empty", _empty(live, authoritative_view=True),
                       within_s=15)
            report.dig["during"] = await poll("step 4: the resolver answers empty", _empty(live), within_s=15)
            report.step(f"        dig now: {report.dig['during'].summary()}")
            report.dig["plan"] = await live.query(plan_record_name(report.outage_plan or "", ENDPOINT),
                                                  authoritative_view=True)
            await everyone_crashes(live, report, crash_window_start, restarts_before)
            report.dig["after"] = await live.query()
            if report.dig["after"].addresses:
                raise StepNotReached("step 6", "the endpoint recovered by itself; the outage did not stick")
        except StepNotReached as missed:
            await nemesis.heal()
            print(f"\nNOT REPRODUCED — {missed}", file=sys.stderr, flush=True)
            return 1
        events = await live.events_since(report.first_position)
    print_story(report, events)
    return 0


def _empty(live: Live, authoritative_view: bool = False):  # type: ignore[no-untyped-def]
    async def probe() -> Answer | None:
        answer = await live.query(authoritative_view=authoritative_view)
        return answer if not answer.addresses else None
    return probe


def print_story(report: Report, events: list[Event]) -> None:
    print("\n== timeline (from the event stream, from just before the fault) ==")
    events = [e for e in events if e.t >= report.t_fault - NARRATION_LEAD_S]
    for line in narrate(events, slow_enactor=SLOW_ENACTOR if report.scenario == "race" else None,
                        outage_plan=report.outage_plan):
        print(line)
    print("\n== dig @127.0.0.1 -p 1053 dynamodb.us-east-1.lab.test A ==")
    for moment in ("before", "during", "after"):
        print(f"  {moment:<7} {report.dig[moment].summary()}")
    plan_answer = report.dig["plan"]
    print(f"  {plan_answer.name}: status {plan_answer.rcode} — the name itself is gone (NXDOMAIN), while the "
          f"endpoint still exists as a name with children (rollback., plan-…), so it answers NOERROR with no "
          f"records (NODATA)")
    crash = report.crash
    if crash is not None:
        print("\n== the line that turns a missing plan into a total outage ==")
        print(f"  {crash.detail.get('exception')}: {crash.detail.get('message')}")
        print(f"  at {crash.detail.get('protocol_at')} in {crash.detail.get('protocol_function')} "
              f"(raised at {crash.detail.get('raised_at')})")
        for line in source_excerpt(str(crash.detail.get("protocol_at")), context=16):
            print(f"  {line}")
    print("\n== summary ==")
    print(f"  scenario:              {report.scenario} (attempts: {report.attempts})")
    print(f"  fault -> empty answer: {report.t_empty - report.t_fault:.1f} s")
    print(f"  outage plan:           {report.outage_plan} (deleted while live)")
    print(f"  enactors crashed:      {', '.join(ENACTORS)}; restarts so far: "
          + ", ".join(f"{n} {c}" for n, c in report.restarts.items()))
    print("  nothing repairs the endpoint: every enactor dies building the rollback record, after every restart.")
    print("  the operator must: make repair   (point the endpoint at the newest existing plan, clear rollback)")
    print(f"  look:                  dig @127.0.0.1 -p 1053 {ENDPOINT} A    ·    make timeline    ·    make ps")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.outage", description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("race", "manual-delete"), default="race")
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
