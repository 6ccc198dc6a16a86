"""The scenarios: the same faults on the same schedule, whatever mode the enactors run.

Each scenario waits for evidence (events in the history) before each fault, so the schedule is set by
what the enactors do, not by a clock; every fault is a real one (a Toxiproxy toxic on one enactor's
own path, `docker pause`, an operator's API call). What the enactors then do is theirs: the
scenario records the outcome (`Report`) and its own expectations; the harness's checker judges the run
(outage/run.py records and judges it).

    race           enactor-a checks plan N and is refused the lock; its dns-admin path is held while the
                   others apply more than K newer plans. The next plan's first lock holder F has its Redis
                   path held the moment it takes the lock, so after F points the endpoint forward, F's lock
                   release and the cleanup that follows it wait. enactor-a's held writes are let through
                   (legacy: the endpoint goes back to N); then F's path is, and F's cleanup runs.
    pause          enactor-a checks plan N and is refused the lock; its dns-admin path is held, and once it
                   holds the lock (its write waiting in Toxiproxy) it is frozen with `docker pause`, past
                   the lock's TTL, until the others have moved on; then released and unpaused.
    manual-delete  no race: an operator deletes the live plan's record set through the API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from dnsrace.events import Event
from dnsrace.plans import generation_of_plan_id, plan_id, plan_of_record_name, plan_record_name

from dnsrace_lab.harness.nemesis import FaultNotStarted, Nemesis
from dnsrace_lab.stack.live import ENACTORS, ENDPOINT, Answer, Live, StepNotReached

SLOW_ENACTOR = "enactor-a"
FAST_ENACTORS = tuple(name for name in ENACTORS if name != SLOW_ENACTOR)
OPERATOR = "operator"       # the client name of the operator's batches (the console names them so)
ATTEMPTS_MAX = 3          # an interleaving is a real race; a missed one is retried, and counted
PAUSE_PAST_TTL_S = 1.0    # how far past the lock's TTL the paused enactor stays frozen, at least


@dataclass
class Report:
    scenario: str
    mode: str
    keep_generations: int
    steps: list[str] = field(default_factory=list)
    dig: dict[str, Answer] = field(default_factory=dict)
    t_fault: float = 0.0
    t_empty: float = 0.0
    slow_plan: str | None = None         # the plan enactor-a checked (race, pause)
    outage_plan: str | None = None       # legacy: the plan deleted while live
    late_write: Event | None = None      # dns-admin's answer to enactor-a's late point batch
    fast_enactor: str | None = None      # race: F, whose cleanup was held
    deleted_plan: str | None = None      # manual-delete: the live plan the operator deleted
    attempts: int = 0
    crash: Event | None = None
    restarts: dict[str, int] = field(default_factory=dict)
    first_position: str = "0-0"

    expectations: list[tuple[bool, str]] = field(default_factory=list)   # safe: what the scenario itself expects

    def step(self, text: str) -> None:
        self.steps.append(text)
        print(text, flush=True)

    def expect(self, ok: bool, text: str) -> None:
        self.expectations.append((ok, text))


def generation(plan: str | None) -> int:
    return generation_of_plan_id(plan) if plan else 0


def is_point_batch(event: Event, client: str, plan: str | None = None) -> bool:
    """Is this dns-admin's answer (accepted or rejected) to `client`'s batch pointing the endpoint?"""
    comment = str(event.detail.get("comment", ""))
    return (event.service == "dns-admin" and event.kind in ("batch_accepted", "batch_rejected")
            and event.detail.get("client") == client and comment.endswith(f": point {ENDPOINT}")
            and (plan is None or comment.startswith(f"{plan}:")))


async def plans_flow(live: Live, report: Report) -> None:
    """Step 1: plans flow and every enactor applies some."""
    since = await live.stream_position()
    applied: set[str] = set()

    def each_enactor_pointed(event: Event) -> bool:
        if event.kind in ("endpoint_pointed", "write_refused", "plan_skipped") and event.service in ENACTORS:
            applied.add(event.service)
        return applied >= set(ENACTORS)

    await live.wait_event(since, "step 1: all three enactors work on plans", each_enactor_pointed, within_s=90)
    report.dig["before"] = await live.poll_answer(empty=False, within_s=15, what="step 1: the endpoint answers")
    report.step(f"step 1  plans flow; all three enactors are working on them. dig: {report.dig['before'].summary()}")


async def _slow_enactor_refused(live: Live, nemesis: Nemesis, report: Report, since: str) -> Event:
    """enactor-a has checked plan N and is refused the lock; its path to dns-admin is held from now on.

    Lock contention is left to chance by the enactors' own polling; the nemesis makes it certain: when a
    fast enactor is the first to take the lock for a new plan, its path to dns-admin is slowed (SLOW_MS
    a request), so it holds the lock for seconds, and enactor-a, checking that plan meanwhile, is
    refused — as the incident's enactor was. (A later taker of the same lock is not slowed: the plan is
    already applied, and nobody is left to contend.) The slowdown lasts one tenure: when the slowed
    holder releases the lock and enactor-a was not refused meanwhile (the holder may even have finished
    before the toxic was in place: the nemesis reacts to an event, it does not stop the clock), the
    path is let go and the next plan's first fast holder is slowed instead.
    """
    slowed: str | None = None
    slowed_plan: str | None = None
    first_taken: set[str] = set()

    def trigger(event: Event) -> bool:
        if event.service == SLOW_ENACTOR and event.kind == "lock_refused":
            return True
        if event.kind == "lock_released" or event.kind == "lock_expired_before_release":
            return event.service == slowed and event.plan == slowed_plan
        if event.kind != "lock_acquired" or event.plan is None or event.plan in first_taken:
            return False
        first_taken.add(event.plan)
        return event.service in FAST_ENACTORS and slowed is None

    try:
        while True:
            event = await live.wait_event(since, f"{SLOW_ENACTOR} checks a plan and is refused the lock", trigger,
                                          within_s=60)
            if event.kind == "lock_refused":
                break
            if slowed is not None:      # the slowed tenure ended without enactor-a contending: re-arm
                await nemesis.unslow(slowed)
                report.step(f"step 2a {slowed} released the lock for {slowed_plan} before {SLOW_ENACTOR} "
                            f"contended; its path is let go, the next plan's first holder is slowed instead")
                slowed = slowed_plan = None
                continue
            slowed, slowed_plan = event.service, event.plan
            await nemesis.slow(slowed)
            report.step(f"step 2a {slowed} took the lock for {event.plan}; its path to dns-admin is slowed, so "
                        f"it holds the lock for seconds [fault: slow {slowed}->dns-admin]")
        await nemesis.hold(SLOW_ENACTOR, "dns-admin")
    finally:
        if slowed is not None:
            await nemesis.unslow(slowed)
    report.t_fault = time.time()
    report.slow_plan = event.plan
    report.step(f"step 2  {SLOW_ENACTOR} checked {event.plan} is newer than live, was refused the lock "
                f"(held by {event.detail.get('held_by')}) and backs off; its requests to dns-admin now wait "
                f"inside Toxiproxy [fault: hold {SLOW_ENACTOR}->dns-admin]")
    return event


async def _wrote_before_the_hold(live: Live, since: str, plan: str | None) -> bool:
    history = await live.events_since(since)
    return any(is_point_batch(e, SLOW_ENACTOR, plan) for e in history)


class Missed(Exception):
    """This attempt's interleaving did not happen (the race is a real one): the scenario tries again."""


async def attempts(report: Report, what: str, attempt: Callable[[], Awaitable[None]]) -> None:
    """Up to ATTEMPTS_MAX attempts at one scenario, each counted in the report; a Missed one is said."""
    for number in range(1, ATTEMPTS_MAX + 1):
        report.attempts = number
        try:
            await attempt()
            return
        except Missed as why:
            report.step(f"        attempt {number}: {why}; trying again")
    raise StepNotReached(what, f"no complete interleaving in {ATTEMPTS_MAX} attempts")


async def race(live: Live, nemesis: Nemesis, report: Report) -> None:
    await attempts(report, "the race", lambda: _race_once(live, nemesis, report))


async def _race_once(live: Live, nemesis: Nemesis, report: Report) -> None:
    since = await live.stream_position()
    refused = await _slow_enactor_refused(live, nemesis, report, since)
    ancient = refused.plan
    if ancient is None:   # a lock_refused event always names its plan; said if one ever does not
        raise StepNotReached("step 1", f"{SLOW_ENACTOR}'s refused lock names no plan (event #{refused.seq})")
    overtaken = await _overtaken(live, nemesis, report, since, ancient)
    winner = await _next_holder_held(live, nemesis, report, overtaken)
    await _late_write(live, nemesis, report, ancient, "step 4")
    report.dig["during"] = await live.query()
    await _cleanup_released(live, nemesis, report, winner, ancient)


async def _overtaken(live: Live, nemesis: Nemesis, report: Report, since: str, ancient: str) -> Event:
    """Step 2: the others apply more than K plans newer than enactor-a's, while its writes are held."""
    k = report.keep_generations
    overtaken = await live.wait_event(
        since, f"step 2: the other enactors apply more than K={k} plans newer than {ancient}",
        lambda e: (e.kind == "endpoint_pointed" and e.service in FAST_ENACTORS
                   and generation(e.plan) > generation(ancient) + k), within_s=120)
    if await _wrote_before_the_hold(live, since, ancient):
        await nemesis.release(SLOW_ENACTOR, "dns-admin")
        raise Missed(f"{SLOW_ENACTOR} wrote {ancient} before the hold")
    report.step(f"        the others moved on: {overtaken.service} pointed the endpoint at {overtaken.plan} "
                f"({generation(overtaken.plan) - generation(ancient)} generations past {ancient})")
    return overtaken


async def _next_holder_held(live: Live, nemesis: Nemesis, report: Report, overtaken: Event) -> Event:
    """Step 3: the first enactor to take the lock for the next plan is F. Its Redis path is held at once:
    F still points the endpoint forward (dns-admin's path is free), but its lock release, and the
    cleanup that follows it, wait inside Toxiproxy."""
    after = await live.stream_position()
    winner = await live.wait_event(
        after, "step 3: a fast enactor takes the lock for the next plan",
        lambda e: (e.kind == "lock_acquired" and e.service in FAST_ENACTORS
                   and generation(e.plan) > generation(overtaken.plan)), within_s=30)
    await nemesis.hold(winner.service, "redis")
    pointed = await live.wait_event(
        after, f"step 3: {winner.service} points the endpoint at {winner.plan}",
        lambda e: is_point_batch(e, winner.service, winner.plan), within_s=30)
    if pointed.kind != "batch_accepted":
        await nemesis.release(winner.service, "redis")
        raise Missed(f"{winner.service}'s batch for {winner.plan} was refused ({pointed.detail.get('error')})")
    report.fast_enactor = winner.service
    report.step(f"step 3  {winner.service} pointed the endpoint at {winner.plan}; its lock release and the "
                f"cleanup after it now wait inside Toxiproxy [fault: hold {winner.service}->redis]")
    return winner


async def _late_write(live: Live, nemesis: Nemesis, report: Report, stale: str, step: str,
                      *, unpause: bool = False) -> None:
    """enactor-a's held writes go through (unpaused too, in pause): its plan's record set, then its point
    batch, which dns-admin accepts (legacy: the endpoint goes back) or refuses (safe)."""
    released_at = await live.stream_position()
    await nemesis.release(SLOW_ENACTOR, "dns-admin")
    if unpause:
        await nemesis.unpause(SLOW_ENACTOR)
    report.late_write = await live.wait_event(
        released_at, f"{step}: dns-admin answers {SLOW_ENACTOR}'s point batch for {stale}",
        lambda e: is_point_batch(e, SLOW_ENACTOR, stale), within_s=60)
    newest = plan_id(await live.newest_generation())
    if unpause:
        faults = "[faults released: hold, docker unpause]"
        back = (f"{SLOW_ENACTOR} woke up still believing it held the lock and wrote late: it pointed the endpoint "
                f"back at {stale} while {newest} exists")
        refused = f"{SLOW_ENACTOR} woke up and wrote late; dns-admin REFUSED"
    else:
        faults = f"[fault released: {SLOW_ENACTOR}->dns-admin]"
        back = (f"{SLOW_ENACTOR}'s held writes went through: it pointed the endpoint back at {stale} while "
                f"{newest} exists; its check was true when made and stale when acted on")
        refused = f"{SLOW_ENACTOR}'s held writes went through, and dns-admin REFUSED"
    if report.late_write.kind == "batch_accepted":
        report.step(f"{step}  {back} {faults}")
    else:
        report.step(f"{step}  {refused} its point batch for {stale}: {report.late_write.detail.get('error')}: "
                    f"{report.late_write.detail.get('message')} {faults}")


async def _cleanup_released(live: Live, nemesis: Nemesis, report: Report, winner: Event, ancient: str) -> None:
    """Step 5: F's path to Redis is let go: its lock release, then its cleanup after its plan."""
    k = report.keep_generations
    cleaned_from = await live.stream_position()
    await nemesis.release(winner.service, "redis")
    finished = await live.wait_event(
        cleaned_from, f"step 5: {winner.service}'s cleanup after {winner.plan}",
        lambda e: e.service == winner.service and e.plan == winner.plan and e.kind in (
            "apply_finished", "enactor_crashed", "write_refused", "apply_failed"), within_s=30)
    history = await live.events_since(cleaned_from)
    deleted = [e for e in history if e.kind == "cleanup_deleted" and e.plan == ancient and e.service == winner.service]
    if report.late_write is not None and report.late_write.kind == "batch_accepted":
        if not deleted or not await points_at_missing(live, ancient):
            raise Missed(f"{winner.service}'s cleanup did not leave the endpoint on a deleted {ancient} "
                         f"({finished.kind})")
        report.outage_plan = ancient
        report.t_empty = deleted[0].t
        report.step(f"step 5  {winner.service}'s cleanup after {winner.plan} deleted {ancient} (more than {k} "
                    f"generations old) while it was the live plan: the endpoint points at nothing "
                    f"[fault released: {winner.service}->redis]")
        return
    spared = [e for e in history if e.kind == "cleanup_spared" and e.service == winner.service]
    what = (f"deleted {', '.join(e.plan or '?' for e in deleted)} (no longer referenced)" if deleted else
            "deleted nothing it should not") + (f"; spared {', '.join(e.plan or '?' for e in spared)}" if spared else "")
    report.step(f"step 5  {winner.service}'s cleanup after {winner.plan} ran: {what} "
                f"[fault released: {winner.service}->redis]")


async def pause(live: Live, nemesis: Nemesis, report: Report, *, lock_ttl_s: float) -> None:
    await attempts(report, "the pause", lambda: _pause_once(live, nemesis, report, lock_ttl_s))


async def _pause_once(live: Live, nemesis: Nemesis, report: Report, lock_ttl_s: float) -> None:
    since = await live.stream_position()
    refused = await _slow_enactor_refused(live, nemesis, report, since)
    stale = refused.plan or "?"
    acquired = await live.wait_event(
        since, f"step 3: {SLOW_ENACTOR} takes the lock for {stale}",
        lambda e: e.service == SLOW_ENACTOR and e.kind in ("lock_acquired", "lock_gave_up") and e.plan == stale,
        within_s=60)
    if acquired.kind != "lock_acquired" or await _wrote_before_the_hold(live, since, stale):
        await nemesis.release(SLOW_ENACTOR, "dns-admin")
        raise Missed(f"{SLOW_ENACTOR} did not end up holding the lock with its write held ({acquired.kind})")
    await nemesis.pause(SLOW_ENACTOR)
    paused_at = time.time()
    report.step(f"step 3  {SLOW_ENACTOR} took the lock for {stale} (token {acquired.token}) and, with its write "
                f"waiting in Toxiproxy, was frozen [fault: docker pause {SLOW_ENACTOR}]")
    moved = await live.wait_event(
        since, f"step 4: the others take the expired lock and apply a plan newer than {stale}",
        lambda e: (e.kind == "endpoint_pointed" and e.service in FAST_ENACTORS
                   and generation(e.plan) > generation(stale)), within_s=60)
    still_paused_s = lock_ttl_s + PAUSE_PAST_TTL_S - (time.time() - paused_at)
    if still_paused_s > 0:
        await asyncio.sleep(still_paused_s)  # the fault's own length: frozen past the TTL, by design
    report.step(f"step 4  its lock expired while it was frozen; {moved.service} took it and pointed the endpoint "
                f"at {moved.plan}")
    report.dig["during"] = await live.query()
    await _late_write(live, nemesis, report, stale, "step 5", unpause=True)


async def manual_delete(live: Live, nemesis: Nemesis, report: Report) -> None:
    """The trigger with no race: delete the live plan's record set, as an operator's mistake would."""
    await attempts(report, "step 2: manual delete", lambda: _manual_delete_once(live, nemesis, report))


async def _manual_delete_once(live: Live, nemesis: Nemesis, report: Report) -> None:
    since = await live.stream_position()
    created = await live.wait_event(since, "a new plan", lambda e: e.kind == "plan_created", within_s=30)
    done: set[str] = set()

    def every_enactor_done(event: Event) -> bool:
        # Final words only: a refused write (safe) is followed by a retry, which must be over too.
        if event.plan == created.plan and event.kind in (
                "apply_finished", "plan_skipped", "lock_gave_up", "apply_gave_up", "enactor_crashed"):
            done.add(event.service)
        return done >= set(ENACTORS)

    # Delete only once all three are done with this plan: no late re-apply can recreate it.
    await live.wait_event(since, f"every enactor done with {created.plan}", every_enactor_done, within_s=15)
    alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
    live_plan = plan_of_record_name(alias.target) if alias is not None and alias.target else "?"
    await live.events.emit("operator_deleted", plan=live_plan, why="manual deletion by mistake")
    report.t_fault = time.time()
    try:
        # Through the nemesis, so the history's fault rows name the batch (the checker excuses it).
        live_plan, change_id = await nemesis.delete_live_plan(
            client=OPERATOR, comment=f"operator: delete {live_plan} (by mistake)")
    except FaultNotStarted as why:
        raise StepNotReached("manual delete", str(why)) from None
    await nemesis.deletion_done()
    report.step(f"step 2  an operator deleted {live_plan}'s record set ({change_id}) — the live plan "
                f"[fault: manual deletion through the API]")
    if not await points_at_missing(live, live_plan):
        raise Missed(f"the endpoint had already moved past {live_plan}")
    report.deleted_plan = live_plan
    report.t_empty = report.t_fault
    if report.mode == "legacy":
        report.outage_plan = live_plan


async def points_at_missing(live: Live, plan: str) -> bool:
    """Does the endpoint alias (in dns-admin, the source of truth) name `plan`, whose record set is gone?

    Asked of dns-admin rather than DNS: CoreDNS picks up the zone within its 1 s reload, so a DNS
    answer right now may still be the one from before. The DNS answers are checked afterwards, with a bound.
    """
    alias = await live.admin.get_record_set(ENDPOINT, "ALIAS")
    target = plan_record_name(plan, ENDPOINT)
    return alias is not None and alias.target == target and await live.admin.get_record_set(target, "A") is None

