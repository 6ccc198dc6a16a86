"""`make model`: the exhaustive searches of both modes, the legacy trail as a timeline, the numbers.

    python3 -m dnsrace_model.searches [--history PATH]

Legacy: each property is searched for a counterexample; the one the incident ends in (an enactor
refused over its rollback change) is printed as numbered protocol steps in the timeline's own
sentences, beside the timeline of a live `make reproduce-outage` (the newest legacy race history).
Safe: the same properties, exhaustively, from two starts, and liveness under weak fairness.
Exit 0 only if legacy's counterexamples are found and safe's searches complete with none.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dnsrace.events import Event
from dnsrace.timeline import sentence

from . import spin, trail

__all__ = ["SEARCHES", "Search", "Outcome", "main", "run_search"]

TOP = spin.MODEL_DIR.parent
SEARCH_TIMEOUT_S = 120.0
WORKERS = 2                       # this machine has two cores
SAFETY = ("P_EXISTING", "P_ROLLBACK", "P_FORWARD", "P_RECOVERABLE")
PROPERTY_NAMES = {
    "P_EXISTING": "P1 the endpoint never refers to a missing plan",
    "P_ROLLBACK": "P2 no enactor fails on the rollback change",
    "P_FORWARD": "P3 the endpoint's generation never goes back",
    "P_RECOVERABLE": "P4 recoverable: endpoint and rollback never both at missing plans",
    "LIVENESS": "P5 once faults stop, the endpoint reaches the newest plan",
}
# Unbounded lock attempts and retries (0): a pass that gives up writes nothing, so for these
# properties it is an enactor slow forever, which the search already covers; fewer states.
COMMON = ("LOCK_TRIES=0", "RETRY_MAX=0", "KEEP=1")


@dataclass(frozen=True)
class Search:
    name: str
    mode: str                     # legacy | safe
    properties: tuple[str, ...]
    defines: tuple[str, ...]
    bounds: str
    expect_violation: bool
    cc_flags: tuple[str, ...] = ("-DSAFETY", "-DCOLLAPSE")
    pan_flags: tuple[str, ...] = ("-m200000", "-w24")
    trail: bool = False

    @property
    def all_defines(self) -> tuple[str, ...]:
        return (*(("SAFE",) if self.mode == "safe" else ()), *COMMON, *self.defines, *self.properties)


def _legacy(prop: str, *, trail_: bool = False) -> Search:
    # -i: after a counterexample, search again for a shorter one: the trail printed is the shortest.
    return Search(f"legacy {prop}", "legacy", (prop,), ("NGEN=3",), "3 enactors, plans 1..3 from an empty zone",
                  True, pan_flags=("-m20000", "-w24", "-i") if trail_ else ("-m20000", "-w24"), trail=trail_)


SEARCHES: tuple[Search, ...] = (
    _legacy("P_ROLLBACK", trail_=True),
    _legacy("P_EXISTING"),
    _legacy("P_FORWARD"),
    _legacy("P_RECOVERABLE"),
    Search("safe P1-P4, from the lab at rest", "safe", SAFETY, ("NGEN=4", "START_APPLIED"),
           "3 enactors, plan 1 live, plans 2..4 to come", False),
    Search("safe P1-P4, from an empty zone", "safe", SAFETY, ("NGEN=3",),
           "3 enactors, no plan yet, plans 1..3 (the first apply, the self-check at start)", False),
    Search("safe P5 liveness", "safe", ("LIVENESS",), ("NGEN=3", "START_APPLIED"),
           "3 enactors, plan 1 live, plans 2..3; weak fairness; leases expire until faults stop", False,
           cc_flags=("-DCOLLAPSE", "-DNFAIR=3"), pan_flags=("-m200000", "-w24", "-a", "-f")),
)


@dataclass(frozen=True)
class Outcome:
    search: Search
    run: spin.Run | None
    error: str | None = None

    @property
    def violated(self) -> bool:
        return self.run is not None and self.run.report.errors > 0

    @property
    def as_expected(self) -> bool:
        if self.run is None:
            return False
        if self.search.expect_violation:
            return self.violated
        return self.run.report.complete and not self.violated


def run_search(search: Search, timeout_s: float = SEARCH_TIMEOUT_S) -> Outcome:
    try:
        run = spin.verify(spin.MODEL_DIR / "dnsrace.pml", search.all_defines, pan_flags=search.pan_flags,
                          cc_flags=search.cc_flags, timeout_s=timeout_s)
    except spin.SpinError as error:
        return Outcome(search, None, str(error))
    return Outcome(search, run)


def summary_line(outcome: Outcome) -> str:
    s = outcome.search
    names = "; ".join(PROPERTY_NAMES[p] for p in s.properties)
    if outcome.run is None:
        return f"  {'FAIL':<4}  {s.name}: {outcome.error}"
    r = outcome.run.report
    verdict = ("violated (as the incident)" if outcome.violated else "no violation found (NOT as expected)"
               if s.expect_violation else "holds, search complete" if outcome.as_expected
               else f"VIOLATED: {r.assertion}" if outcome.violated else "search INCOMPLETE")
    return (f"  {'ok' if outcome.as_expected else 'FAIL':<4}  {s.name:<34} {verdict}\n"
            f"        {names}\n        bounds: {s.bounds}\n"
            f"        {r.states_stored:,} states stored, depth {r.depth_reached:,}, {r.memory_mb:,.1f} MB, "
            f"pan {r.elapsed_s:.1f} s (with spin and gcc {outcome.run.seconds:.1f} s)")


def newest_history(kind: str = "legacy-race") -> Path | None:
    found = sorted((TOP / "store" / "reproduce-outage").glob(f"*-{kind}/history.jsonl"))
    return found[-1] if found else None


def live_story(history: Path) -> list[Event]:
    """The live run's protocol events (what an enactor decided, and dns-admin's refusals)."""
    events = []
    for line in history.read_text().splitlines():
        row = json.loads(line)
        if row.get("source") == "event" and row.get("kind") not in ("zone_rendered", "batch_accepted", "lock_refused",
                                                                     "fault_started", "fault_stopped"):
            events.append(Event.from_json({k: v for k, v in row.items() if k != "source"}))
    return sorted(events, key=lambda e: (e.t, e.seq or 0))


def print_trail(outcome: Outcome, history: Path | None) -> list[str]:
    """The legacy counterexample as the timeline's sentences; returns disagreements with dns-admin."""
    assert outcome.run is not None
    steps = trail.parse(spin.replay(outcome.run), keep_generations=1, mode="legacy")
    events = [s.event for s in steps]
    print(f"\n== the counterexample, step by step (spin's shortest trail for P2; {len(events)} steps) ==")
    print("\n".join(trail.render(events)))
    marks = trail.story(events)
    disagreements = trail.replay_batches(steps, trail.start_zone(plan_applied=False))
    print("\n  every batch of the trail applied with dns-admin's own rules (dnsrace.batch_rules): "
          + ("the same outcomes as the model" if not disagreements else "DISAGREES:\n    " + "\n    ".join(disagreements)))
    if history is None:
        print("\n== a live run for comparison: none recorded yet. `make reproduce-outage` (MODE=legacy "
              "SCENARIO=race) records one in store/reproduce-outage/<time>-legacy-race/history.jsonl ==")
        return disagreements
    live = live_story(history)
    live_marks = trail.story(live)
    if not live_marks:
        print(f"\n== {history.relative_to(TOP)}: no cleanup deleted the live plan in this run ==")
        return disagreements
    # From the slow enactor's check to the first crash: what the slow enactor did, where the others
    # moved the endpoint meanwhile, and the moments themselves.
    first, last = min(live_marks.values()), max(live_marks.values())
    slow = live[live_marks[trail.MOMENTS[1]]].service
    moments = set(live_marks.values())
    shown = [e for i, e in enumerate(live[first:last + 1], first)
             if i in moments or e.kind == "endpoint_pointed"
             or (e.service == slow and e.kind not in ("lock_released", "apply_finished", "plan_skipped"))]
    print(f"\n== the same story in a live run: {history.relative_to(TOP)} ==")
    start = shown[0].t
    for event in shown:
        print(f"  +{event.t - start:7.3f}s  #{event.seq:<5} {event.service:<10} {sentence(event)}")
    print("\n== side by side: the incident's moments ==")
    for moment in trail.MOMENTS:
        model_at, live_at = marks.get(moment), live_marks.get(moment)
        print(f"  {moment:<52} model: {f'step {model_at + 1}' if model_at is not None else '-':<9} "
              f"live: {f'#{live[live_at].seq}' if live_at is not None else '-'}")
    return disagreements


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make model", description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, help="a live legacy race history (default: the newest one)")
    parser.add_argument("--no-trail", action="store_true", help="numbers only")
    args = parser.parse_args(argv)
    print(f"model: {spin.MODEL_DIR.relative_to(TOP)}/dnsrace.pml, {len(SEARCHES)} searches on {WORKERS} cores "
          f"(reductions: partial order, statement merging, one shared access per atomic step, COLLAPSE "
          f"compression, lazy plan publication, dead locals zeroed)")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = list(pool.map(run_search, SEARCHES))
    searched_s = time.monotonic() - started
    for mode in ("legacy", "safe"):
        print(f"\n== {mode} ==")
        for outcome in outcomes:
            if outcome.search.mode == mode:
                print(summary_line(outcome))
    disagreements: list[str] = []
    trail_outcome = next(o for o in outcomes if o.search.trail)
    if not args.no_trail and trail_outcome.violated:
        disagreements = print_trail(trail_outcome, args.history or newest_history())
    failed = [o.search.name for o in outcomes if not o.as_expected]
    if disagreements:
        failed.append("the trail's batches under dns-admin's rules")
    if failed:
        print(f"\nmodel: FAILED: {', '.join(failed)}")
        return 1
    print(f"\nmodel: OK: legacy's counterexamples found; safe's searches complete, with none "
          f"({searched_s:.0f} s for all {len(SEARCHES)} searches)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
