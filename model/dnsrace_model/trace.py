"""Trace validation: a recorded run's events, checked against the same Promela model (dnsrace.pml).

    python3 -m dnsrace_model.trace store/reproduce-outage/<run>/history.jsonl     (make model-check-trace)

The approach of Cirstea, Kuppe, Loillier and Merz (2024) for TLA+, in Spin: the events become
per-process queues written into a wrapper of the model (trace_hooks.pml), in which every step that
emits an event may be taken only if it emits the next recorded event of its process. Spin then
searches for an execution that consumes every event. Found: the run is a behaviour of the model
(valid). Not found: the search is exhaustive, so no interleaving of the model explains the run, and
the first event (in timeline order) that no execution reaches is named (invalid). No rule of the
protocol is written here: this module only translates names and numbers.

The mapping (MAPPED, SKIPPED, UNMODELLED below; the README's table is this one):
- every event an enactor or the planner emits is a step of the model, with its arguments compared;
- dns-admin's batch_accepted / batch_rejected are the batch steps of the client that sent them
  (enactor-a..c, anybody else is the operator process), with their changes compared (read as
  dnsrace.zone_history reads them: a history recorded before they were structured is a TraceError);
- what the model abstracts is skipped (zone rendering, the lab's fault and narration events);
- what the model has no step for is kept, and can never be taken (the check then names it).

Order: a process's events in the order it emitted them; across processes only what the system
orders itself: dns-admin's batches in the order dns-admin answered them, lock tenures by token.
The run may begin mid-pass: the check starts at the first moment every enactor is between passes,
from any zone the plans published so far allow (the recording does not hold the zone).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dnsrace.events import Event
from dnsrace.plans import MalformedPlan, generation_of_plan_id, plan_of_record_name
from dnsrace.timeline import sentence
from dnsrace.zone_history import SetChange, changes_of, failing_change_of

from . import codes, spin

__all__ = ["MAPPED", "SKIPPED", "UNMODELLED", "Settings", "TraceModel", "TraceVerdict", "build", "check",
           "check_events", "describe", "load_events", "main", "mapping_table", "wrapper_text"]

ENDPOINT_DEFAULT = "dynamodb.us-east-1.lab.test"
ANY = 255           # an argument the model does not compare
NEVER = 254         # a value the model never produces (an unmodelled name, error or exception)
UNMODELLED_KIND = 250
GENERATION_SPAN_MAX = 250
EVENTS_MAX = 20_000
PLANNER, OPERATOR = 0, 4
ENACTORS = {"enactor-a": 1, "enactor-b": 2, "enactor-c": 3}
PROCESS_NAMES = {0: "planner", 1: "enactor-a", 2: "enactor-b", 3: "enactor-c", 4: "operator"}
MAXCH = 6
PAN_TIMEOUT_S = 120.0
D_STEP_LINES_MAX = 300      # lines of table assignments in one d_step (spin has a limit)
INLINE_CHARS_MAX = 8_000    # characters of one inline's text: a margin (a 300-line d_step alone stays under spin's buffer)

# --- the mapping table ------------------------------------------------------------------------------
# kind -> the model's step that emits it, and the arguments compared (model/events.pml numbers them).
MAPPED: dict[str, str] = {
    "plan_created": "planner publishes plan N+1 (N compared)",
    "check_passed": "step 2, the check passes (plan, live plan, restoring compared)",
    "plan_skipped": "step 2, the check fails (plan, live plan compared)",
    "lock_acquired": "step 3, lock taken (plan, attempt compared; order: token)",
    "lock_refused": "step 3, lock busy (plan, holder, attempt compared)",
    "lock_gave_up": "step 3, attempts exhausted (plan compared)",
    "record_set_written": "step 4, after its batch (plan compared)",
    "endpoint_pointed": "step 5, after its batch (plan, rollback target compared)",
    "endpoint_unchanged": "step 5, safe: already live (plan compared)",
    "rollback_emptied": "step 5, safe: previous plan gone (plan, previous compared)",
    "lock_released": "step 6, still held (plan compared)",
    "lock_expired_before_release": "step 6, the lease had expired (plan compared)",
    "cleanup_spared": "step 7, safe: a referenced victim (plan, after compared)",
    "cleanup_deleted": "step 7, after its batch (victim, after compared)",
    "cleanup_already_gone": "step 7, its DELETE found nothing (victim, after compared)",
    "apply_finished": "step 7 done (plan compared)",
    "write_refused": "safe: a refused batch ends the pass (plan, failures compared)",
    "apply_gave_up": "safe: RETRY_MAX failures (plan, failures compared)",
    "endpoint_empty_found": "safe: self-check repairs (live plan, newest compared)",
    "self_check_answering": "safe: self-check answers again",
    "enactor_crashed": "legacy: the refusal escapes, or a call failed outside the protocol (exception compared)",
    "enactor_started": "restarted after a crash or a SIGKILL (or found down at the start)",
    "apply_failed": "a call failed outside the protocol (a lost answer, a dead peer): the pass ends (plan, "
                    "failures compared; the error must be one of codes.INFRA_EXCEPTIONS)",
    "batch_accepted": "the client's batch, accepted (every change compared; order: dns-admin's)",
    "batch_rejected": "the client's batch, rejected (error, change index and failing change compared)",
}
SKIPPED: dict[str, str] = {
    "zone_rendered": "the zone file; CoreDNS's reload is the model's own step",
    "fault_started": "the lab's nemesis: slowness is scheduling, expiry is the lock's clock",
    "fault_stopped": "the lab's nemesis",
    "operator_deleted": "narration; the operator's batch is the step",
    "operator_repair": "narration; the operator's batch is the step",
    "clients_recovered": "DNS clients, outside the protocol",
    "planner_started": "no plan",
    "planner_stopped": "no plan",
    "backend_healthy": "health checks: the plan's content is not modelled",
    "backend_unhealthy": "health checks: the plan's content is not modelled",
    "plan_withheld": "no plan",
    "plan_not_published": "no plan",
}
UNMODELLED: dict[str, str] = {
    "batch_outcome_unknown": "dns-admin could not tell whether its own commit happened (its store timed out)",
    "enactor_frozen": "the model never freezes (no state it cannot reason about)",
    "enactor_unfrozen": "the model never freezes",
    "plan_rejected": "malformed plans are not modelled",
    "enactor_stopped": "a graceful stop mid-run is not modelled",
}
# What ends and starts a pass, for finding where the check can start.
PASS_STARTS = {"check_passed", "plan_skipped", "endpoint_empty_found", "enactor_started", "self_check_answering"}
PASS_ENDS = {"apply_finished", "plan_skipped", "lock_gave_up", "apply_gave_up", "self_check_answering"}


class TraceError(ValueError):
    """The events cannot be made into a trace (too many, too many plans, unreadable)."""


@dataclass(frozen=True)
class Settings:
    """The run's settings the model needs; from the history's first row, or the events."""

    safe: bool
    keep_generations: int = 5
    lock_attempts_max: int = 30
    retry_count_max: int = 10


@dataclass(frozen=True)
class Step:
    """One recorded event, as the model takes it."""

    event: Event
    process: int
    kind: int
    args: tuple[int, int, int]
    changes: tuple[tuple[int, int, int], ...] | None = None   # accepted batch: all of them
    failing: tuple[int, int, int] | None = None                # rejected batch: the one named
    rank: int = 0                                              # place in the timeline
    after: int | None = None                                   # index of the step to take first


@dataclass(frozen=True)
class TraceModel:
    """The trace, ready to be written into the model: steps grouped by process."""

    steps: tuple[Step, ...]
    ends: tuple[int, ...]
    down: tuple[bool, ...]
    ngen: int
    newest0: int
    offset: int
    settings: Settings
    skipped: dict[str, int] = field(default_factory=dict)
    dropped: tuple[Event, ...] = ()      # before the start (an enactor was mid-pass)
    torn: tuple[Event, ...] = ()         # after the end of what every service had recorded (torn_tail)


@dataclass(frozen=True)
class TraceVerdict:
    valid: bool | None                   # True: a behaviour of the model; False: not; None: unknown
    why: str
    first_untaken: Step | None = None
    report: spin.Report | None = None
    seconds: float = 0.0


# --- reading ----------------------------------------------------------------------------------------

def load_events(lines: Iterable[str]) -> tuple[list[Event], dict[str, Any]]:
    """Events from JSONL: a history (rows with "source", the first one "run") or bare events."""
    events: list[Event] = []
    run: dict[str, Any] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise TraceError(f"line {number}: not JSON ({error})") from None
        source = row.get("source")
        if source == "run":
            run = row
        elif source in (None, "event") and "kind" in row and "service" in row:
            try:
                events.append(Event.from_json({k: v for k, v in row.items() if k != "source"}))
            except (TypeError, ValueError) as error:
                raise TraceError(f"line {number}: not an event ({error})") from None
        if len(events) > EVENTS_MAX:
            raise TraceError(f"more than {EVENTS_MAX} events: check a shorter run")
    return events, run


def settings_for(events: Sequence[Event], run: dict[str, Any], *, safe: bool | None = None,
                 keep_generations: int | None = None) -> Settings:
    mode = run.get("mode") or next((e.detail.get("mode") for e in events if e.kind == "enactor_started"), None)
    keep = run.get("keep_generations") or next(
        (e.detail.get("keep_generations") for e in events if e.kind in ("enactor_started", "cleanup_deleted")
         and isinstance(e.detail.get("keep_generations"), int)), 5)
    return Settings(safe=safe if safe is not None else mode == "safe",
                    keep_generations=keep_generations if keep_generations is not None else int(keep or 5))


# --- mapping ----------------------------------------------------------------------------------------

def _generation(plan: object) -> int | None:
    if not isinstance(plan, str):
        return None
    try:
        return generation_of_plan_id(plan_of_record_name(plan))
    except MalformedPlan:
        return None


def process_of(event: Event) -> int | None:
    """Which model process takes the event (None: skipped)."""
    if event.kind in SKIPPED:
        return None
    if event.kind in ("batch_accepted", "batch_rejected"):
        return ENACTORS.get(str(event.detail.get("client") or ""), OPERATOR)
    if event.service in ENACTORS:
        return ENACTORS[event.service]
    if event.service == "planner":
        return PLANNER
    return OPERATOR if event.kind in UNMODELLED else None


class _Names:
    """Record names and plans as the model numbers them (generation - offset)."""

    def __init__(self, endpoint: str, offset: int) -> None:
        self.endpoint, self.offset = endpoint, offset

    def gen(self, plan: object) -> int:
        generation = _generation(plan)
        return 0 if plan is None else (generation - self.offset if generation is not None else NEVER)

    def name(self, name: str) -> tuple[int, int]:
        """(name code, value of an A set's own generation) for a record name."""
        if name == self.endpoint:
            return codes.NAMES["endpoint"], 0
        if name == f"rollback.{self.endpoint}":
            return codes.NAMES["rollback"], 0
        label, _, rest = name.partition(".")
        generation = _generation(label) if rest == self.endpoint else None
        return (codes.NAMES["plan"], generation - self.offset) if generation is not None else (NEVER, NEVER)

    def change(self, change: SetChange) -> tuple[int, int, int]:
        """UPSERT ALIAS dynamodb… -> plan-000014.dynamodb… -> (action, name, value)."""
        action = codes.ACTIONS.get(change.action, NEVER)
        code, own = self.name(change.name)
        if change.type == "A":
            return (action, code if code == codes.NAMES["plan"] else NEVER, own)
        if change.type != "ALIAS":
            return (NEVER, NEVER, NEVER)
        target_code, target_gen = self.name(change.target or "")
        return (action, code if code != codes.NAMES["plan"] else NEVER,
                target_gen if target_code == codes.NAMES["plan"] else NEVER)


def _error(name: object) -> int:
    return codes.REFUSALS.get(str(name), NEVER)


def _failure(name: object) -> int:
    """A crash's exception: one of dns-admin's refusals the model has, or a failure outside the
    protocol (INFRA_ERROR), or a name the model never produces."""
    if str(name) in codes.INFRA_EXCEPTIONS:
        return codes.ERRORS["INFRA_ERROR"]
    return _error(name)


def _holder(held_by: object) -> int:
    return ENACTORS.get(str(held_by).split(":", 1)[0], NEVER)


def _small(value: object) -> int:
    return value if isinstance(value, int) and 0 <= value < NEVER else NEVER


def _args(event: Event, names: _Names) -> tuple[int, int, int]:
    d, g = event.detail, names.gen
    kind = event.kind
    if kind in ("plan_created", "record_set_written", "endpoint_unchanged", "lock_released",
                "lock_expired_before_release", "apply_finished", "lock_gave_up"):
        return (g(event.plan), 0, 0)
    if kind == "check_passed":
        return (g(event.plan), g(d.get("live")), 1 if d.get("restoring") else 0)
    if kind == "plan_skipped":
        return (g(event.plan), g(d.get("live")), 0)
    if kind == "lock_acquired":
        return (g(event.plan), _small(d.get("attempt")), 0)
    if kind == "lock_refused":
        return (g(event.plan), _holder(d.get("held_by")), _small(d.get("attempt")))
    if kind == "endpoint_pointed":
        return (g(event.plan), g(d.get("rollback")), 0)
    if kind == "rollback_emptied":
        return (g(event.plan), g(d.get("previous")), 0)
    if kind in ("cleanup_spared", "cleanup_deleted", "cleanup_already_gone"):
        return (g(event.plan), g(d.get("after")), 0)
    if kind in ("write_refused", "apply_gave_up"):
        return (g(event.plan), _small(d.get("failures")), 0)
    if kind == "apply_failed":
        infra = str(d.get("error") or "").split(":", 1)[0] in codes.INFRA_EXCEPTIONS
        return (g(event.plan), _small(d.get("failures")), 0 if infra else NEVER)
    if kind == "endpoint_empty_found":
        return (g(event.plan), g(d.get("newest")), 0)
    if kind == "enactor_crashed":
        return (_failure(d.get("exception")), 0, 0)
    if kind == "batch_accepted":
        return (codes.ERRORS["OK"], ANY, 0)
    if kind == "batch_rejected":
        index = d.get("change_index")
        return (_error(d.get("error")), index if isinstance(index, int) and 0 <= index < MAXCH else NEVER, 0)
    return (0, 0, 0)


def _batch(event: Event, names: _Names) -> tuple[tuple[tuple[int, int, int], ...] | None, tuple[int, int, int] | None]:
    changes, failing = _changes(event)
    if event.kind == "batch_accepted":
        if not 1 <= len(changes) <= MAXCH:
            return ((NEVER, NEVER, NEVER),), None
        return tuple(names.change(change) for change in changes), None
    if event.kind == "batch_rejected":
        return None, names.change(failing) if failing is not None else None
    return None, None


def _changes(event: Event) -> tuple[tuple[SetChange, ...], SetChange | None]:
    """dns-admin's structured changes: an accepted batch's, and the one a rejected batch names as failing.
    TraceError when they cannot be read (a history recorded before they were structured, among others)."""
    try:
        if event.kind == "batch_accepted" and isinstance(event.detail.get("changes"), list):
            return changes_of(event), None
        if event.kind == "batch_rejected":
            return (), failing_change_of(event)
    except ValueError as error:      # zone_history.UnstructuredChanges is one
        raise TraceError(str(error)) from None
    return (), None


def _referenced(event: Event) -> list[int]:
    """Every generation an event names, to place the model's window of plans."""
    found = [_generation(event.plan)]
    for key in ("live", "rollback", "previous", "after", "newest"):
        found.append(_generation(event.detail.get(key)))
    changes, failing = _changes(event)
    for change in (*changes, *([failing] if failing is not None else [])):
        found += [_generation(change.name), _generation(change.target)]
    # A refusal's message names the current value too (RecordSetMismatch's "(-> plan-…)"), which no field
    # carries: its words bound the window of plans, and nothing else is read from them.
    found += [_generation(word.rstrip(":")) for word in str(event.detail.get("message") or "").split()]
    return [g for g in found if g is not None]


# --- where the check starts -------------------------------------------------------------------------

def start_index(timeline: Sequence[Event]) -> tuple[int, dict[int, bool]]:
    """The first index at which every enactor is between passes (or down), and which are down.

    A recording that begins mid-pass cannot be replayed from a state the model knows, so the events
    before this point are left out (and said so)."""
    state = {e: "unknown" for e in ENACTORS.values()}
    first_kind: dict[int, list[str]] = {e: [] for e in ENACTORS.values()}
    for earlier in timeline:
        process = process_of(earlier)
        if process in state:
            first_kind[process].append(earlier.kind)
    seen = {e: 0 for e in ENACTORS.values()}
    for index, event in enumerate([*timeline, None]):
        ready = True
        for enactor, now in state.items():
            if now in ("rest", "down"):
                continue
            upcoming = first_kind[enactor][seen[enactor]:]
            if now == "unknown" and (not upcoming or upcoming[0] in PASS_STARTS):
                continue
            ready = False
        if ready:
            down = {e: state[e] == "down" or (state[e] == "unknown" and first_kind[e][seen[e]:seen[e] + 1]
                                               == ["enactor_started"]) for e in state}
            return index, down
        if event is None:
            break
        process = process_of(event)
        if process not in state:
            continue
        seen[process] += 1
        if event.kind == "enactor_crashed":
            state[process] = "down"
        elif event.kind in PASS_ENDS:
            state[process] = "rest"
        else:
            state[process] = "busy"
    raise TraceError("no moment where every enactor is between passes")


# --- where the check ends ---------------------------------------------------------------------------

def torn_tail(timeline: Sequence[Event]) -> tuple[list[Event], tuple[Event, ...]]:
    """The recording without its torn tail: (kept, left out).

    Each service writes its events in the order it emits them, but services reach the stream at
    different speeds, so a recording that ends while they run can hold dns-admin's answer to an
    enactor's batch without the enactor's own events that led to it (its lock_acquired still in its
    queue). A batch of a client later than that client's last recorded event is such a place: the
    recording is cut before the first one, for every process, so what is kept is a prefix in time."""
    last_own: dict[str, float] = {}
    for event in timeline:
        last_own[event.service] = max(last_own.get(event.service, event.t), event.t)
    cut = min((e.t for e in timeline if e.kind in ("batch_accepted", "batch_rejected")
               and (client := str(e.detail.get("client") or "")) in ENACTORS and e.t > last_own.get(client, e.t)),
              default=None)
    if cut is None:
        return list(timeline), ()
    return [e for e in timeline if e.t < cut], tuple(e for e in timeline if e.t >= cut)


# --- the trace --------------------------------------------------------------------------------------

def build(events: Sequence[Event], settings: Settings, *, endpoint: str | None = None) -> TraceModel:
    """Pure: the recorded events as the model's queues, bounds and start."""
    timeline = sorted(events, key=lambda e: (e.t, e.seq or 0))
    skipped: dict[str, int] = {}
    kept = []
    for event in timeline:
        if process_of(event) is None:
            skipped[event.kind] = skipped.get(event.kind, 0) + 1
        else:
            kept.append(event)
    begin, down = start_index(kept)
    dropped, kept = tuple(kept[:begin]), kept[begin:]
    kept, torn = torn_tail(kept)
    named = (str(e.detail["endpoint"]) for e in kept if e.detail.get("endpoint"))
    endpoint_name: str = endpoint if endpoint else next(named, ENDPOINT_DEFAULT)

    referenced = [g for e in kept for g in _referenced(e)]
    created = sorted(g for e in kept if e.kind == "plan_created" and (g := _generation(e.plan)) is not None)
    if not referenced:
        referenced = [1]
    offset = max(0, min(referenced) - 1)
    newest0 = (created[0] - 1 if created else max(referenced)) - offset
    ngen = max(max(referenced) - offset, newest0 + len(created), 1)
    if ngen > GENERATION_SPAN_MAX:
        raise TraceError(f"the run spans {ngen} plans; at most {GENERATION_SPAN_MAX} fit the model's bytes")
    names = _Names(endpoint_name, offset)

    by_process: dict[int, list[tuple[int, Event]]] = {p: [] for p in PROCESS_NAMES}
    for rank, event in enumerate(kept):
        by_process[process_of(event) or 0].append((rank, event))
    ordered = [(p, rank, e) for p in PROCESS_NAMES for rank, e in by_process[p]]
    index_of = {id(e): i for i, (_p, _r, e) in enumerate(ordered)}
    after: dict[int, int] = {}
    batches = [e for e in kept if e.kind in ("batch_accepted", "batch_rejected")]
    for before, then in zip(batches, batches[1:]):      # dns-admin answers one batch at a time
        after[index_of[id(then)]] = index_of[id(before)]
    tenures = sorted((e for e in kept if e.kind == "lock_acquired" and isinstance(e.token, int)), key=lambda e: e.token or 0)
    for before, then in zip(tenures, tenures[1:]):      # a lock's tokens come from one counter
        after[index_of[id(then)]] = index_of[id(before)]

    steps = []
    for index, (process, rank, event) in enumerate(ordered):
        kind = codes.EVENTS.get(event.kind, UNMODELLED_KIND)
        changes, failing = _batch(event, names)
        steps.append(Step(event, process, kind, _args(event, names), changes, failing, rank, after.get(index)))
    ends, total = [], 0
    for process in PROCESS_NAMES:
        total += len(by_process[process])
        ends.append(total)
    return TraceModel(tuple(steps), tuple(ends), tuple(bool(down.get(p, False)) for p in PROCESS_NAMES),
                      ngen, newest0, offset, settings, skipped, dropped, torn)


def wrapper_text(trace: TraceModel, model: Path = spin.MODEL_DIR / "dnsrace.pml") -> str:
    """Pure: the Promela wrapper that includes the model with the trace in it."""
    s = trace.settings
    lines = [f"/* generated by dnsrace_model.trace: {len(trace.steps)} events, plans offset by {trace.offset} */",
             "#define TRACE", *(["#define SAFE"] if s.safe else []),
             f"#define NGEN {trace.ngen}", f"#define KEEP {s.keep_generations}",
             f"#define LOCK_TRIES {s.lock_attempts_max}", f"#define RETRY_MAX {s.retry_count_max}",
             f"#define TR_N {max(len(trace.steps), 1)}", f"#define TR_NEWEST0 {trace.newest0}",
             "inline trace_data() {"]
    body = []
    for i, step in enumerate(trace.steps):
        body.append(f"tr_proc[{i}] = {step.process}; tr_kind[{i}] = {step.kind}; tr_rank[{i}] = {step.rank};")
        a, b, c = step.args
        body.append(f"tr_a[{i}] = {a}; tr_b[{i}] = {b}; tr_c[{i}] = {c};")
        if step.after is not None:
            body.append(f"tr_after[{i}] = {step.after + 1};")
        if step.changes is not None:
            body.append(f"tr_bn[{i}] = {len(step.changes)};")
            for j, (act, name, val) in enumerate(step.changes):
                body.append(f"tr_bact[{i * MAXCH + j}] = {act}; tr_bname[{i * MAXCH + j}] = {name}; "
                            f"tr_bval[{i * MAXCH + j}] = {val};")
        elif step.event.kind == "batch_rejected":
            act, name, val = step.failing or (ANY, ANY, ANY)
            body.append(f"tr_bn[{i}] = {ANY}; tr_bact[{i * MAXCH}] = {act}; tr_bname[{i * MAXCH}] = {name}; "
                        f"tr_bval[{i * MAXCH}] = {val};")
    for i in range(1, len(trace.steps)):    # refusals observing one tenure are taken together
        step, before = trace.steps[i], trace.steps[i - 1]
        if (i not in trace.ends and step.event.kind == before.event.kind == "lock_refused"
                and step.event.detail.get("held_by") == before.event.detail.get("held_by")):
            body.append(f"tr_group[{i}] = 1;")
    # Each process's tenure, from here on, may lapse: its next release found the lease expired, or
    # it has no release (the pass failed outside the protocol, the process died or was killed with the
    # lock held: the lease runs out), or the recording ends first.
    lapse = True
    for i in range(len(trace.steps) - 1, -1, -1):
        step = trace.steps[i]
        if i + 1 in trace.ends or i == len(trace.steps) - 1:
            lapse = True
        if step.event.kind in ("lock_released", "lock_expired_before_release"):
            lapse = step.event.kind == "lock_expired_before_release"
        elif step.event.kind in ("enactor_crashed", "enactor_started", "apply_failed"):
            lapse = True
        if lapse:
            body.append(f"tr_lapse[{i}] = 1;")
    for process, end in enumerate(trace.ends):
        body.append(f"tr_end[{process}] = {end}; cur[{process}] = {trace.ends[process - 1] if process else 0};")
        if trace.down[process]:
            body.append(f"tr_down[{process}] = 1;")
    # Spin refuses a d_step past a length ("d_step sequence too long") and an inline's text past its
    # buffer ("inline text too long": a cascade chaos run of 430 events): the tables are filled in
    # several d_steps, each the body of its own inline, called one after another before any process runs.
    chunks = list(_chunks(body))
    parts = []
    for k, chunk in enumerate(chunks):
        parts += [f"inline trace_data_{k}() {{", "  d_step {", *(f"    {line}" for line in chunk), "    skip", "  }", "}"]
    lines = [*lines[:-1], *parts, "inline trace_data() {", *(f"  trace_data_{k}();" for k in range(len(chunks))),
             "  skip", "}", f'#include "{model.name}"', ""]
    return "\n".join(lines)


def _chunks(body: list[str]) -> Iterator[list[str]]:
    """The table lines in pieces of at most D_STEP_LINES_MAX lines and INLINE_CHARS_MAX characters."""
    chunk: list[str] = []
    size = 0
    for line in body:
        if chunk and (len(chunk) >= D_STEP_LINES_MAX or size + len(line) + 5 > INLINE_CHARS_MAX):
            yield chunk
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 5
    yield chunk


# --- checking ---------------------------------------------------------------------------------------

def check(trace: TraceModel, *, timeout_s: float = PAN_TIMEOUT_S) -> TraceVerdict:
    """Ask spin whether the whole trace is a behaviour of the model (the edge: runs spin)."""
    if not trace.steps:
        return TraceVerdict(True, "no events to check")
    import tempfile
    work = Path(tempfile.mkdtemp(prefix="dnsrace-trace-"))
    wrapper = work / "trace_run.pml"
    wrapper.write_text(wrapper_text(trace))
    depth = 60 * len(trace.steps) + 20_000
    run = spin.verify(wrapper, (), pan_flags=["-E", f"-m{depth}", "-w22"], cc_flags=["-DSAFETY", "-DCOLLAPSE"],
                      timeout_s=timeout_s, workdir=work, optimize="-O0")
    report = run.report
    if report.assertion is not None and "taken" in report.assertion:
        return TraceVerdict(True, f"all {len(trace.steps)} events are a behaviour of the model", report=report,
                       seconds=run.seconds)
    lows = [int(line.split()[1]) for line in report.lines if line.startswith("@@LOW")]
    low = max(lows, default=0)
    by_rank = {step.rank: step for step in trace.steps}
    first = by_rank.get(low)
    if report.assertion is not None:
        return TraceVerdict(False, f"the model's assertion {report.assertion} fails along the run", first, report,
                       run.seconds)
    if not report.complete:
        return TraceVerdict(None, "the search did not complete", first, report, run.seconds)
    return TraceVerdict(False, f"no execution of the model takes the run past event {low + 1} of {len(trace.steps)}",
                   first, report, run.seconds)


def check_events(events: Sequence[Event], *, safe: bool, keep_generations: int = 5,
                 timeout_s: float = PAN_TIMEOUT_S) -> TraceVerdict:
    """The whole check for events already in hand (an integration test's, a unit test's)."""
    try:
        trace = build(events, Settings(safe=safe, keep_generations=keep_generations))
    except TraceError as error:
        return TraceVerdict(None, str(error))
    return check(trace, timeout_s=timeout_s)


def describe(step: Step) -> str:
    e = step.event
    return f"#{e.seq} {PROCESS_NAMES[step.process]:<9} {e.service}: {sentence(e)}  [{e.kind}]"


def mapping_table() -> list[str]:
    rows = [f"| `{k}` | mapped | {v} |" for k, v in MAPPED.items()]
    rows += [f"| `{k}` | skipped | {v} |" for k, v in SKIPPED.items()]
    rows += [f"| `{k}` | kept, no step | {v} |" for k, v in UNMODELLED.items()]
    return ["| event | how | the model's step, or why |", "|---|---|---|", *rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_model.trace", description=__doc__.splitlines()[0])
    parser.add_argument("history", nargs="?", help="a history.jsonl, or a JSONL of events")
    parser.add_argument("--mode", choices=("legacy", "safe"), help="default: the run's")
    parser.add_argument("--keep", type=int, help="CLEANUP_KEEP_GENERATIONS (default: the run's, else 5)")
    parser.add_argument("--table", action="store_true", help="print the mapping table and exit")
    args = parser.parse_args(argv)
    if args.table:
        print("\n".join(mapping_table()))
        return 0
    if not args.history:
        parser.error("a history file is needed")
    path = Path(args.history)
    try:
        with path.open() as lines:
            events, run = load_events(lines)
        settings = settings_for(events, run, safe=None if args.mode is None else args.mode == "safe",
                                keep_generations=args.keep)
        trace = build(events, settings)
        verdict = check(trace)
    except (TraceError, OSError, spin.SpinError) as error:
        print(f"trace: {path}: {error}", file=sys.stderr)
        return 2
    mode = "safe" if settings.safe else "legacy"
    print(f"trace: {path} ({mode}, K={settings.keep_generations}): {len(trace.steps)} events checked, "
          f"{sum(trace.skipped.values())} skipped ({', '.join(f'{k} {v}' for k, v in sorted(trace.skipped.items()))})")
    if trace.dropped:
        print(f"trace: the first {len(trace.dropped)} events left out: an enactor was mid-pass when the "
              f"recording began (checked from #{min(s.event.seq or 0 for s in trace.steps) if trace.steps else '?'})")
    if trace.torn:
        print(f"trace: the last {len(trace.torn)} events left out: the recording ended before "
              f"{trace.torn[0].detail.get('client')}'s own events reached it (a torn tail; from #{trace.torn[0].seq})")
    print(f"trace: model bounds: plans {trace.offset + 1}..{trace.offset + trace.ngen} "
          f"(newest at the start plan {trace.offset + trace.newest0}), lock attempts {settings.lock_attempts_max}, "
          f"retries {settings.retry_count_max}")
    if verdict.report is not None:
        r = verdict.report
        print(f"trace: spin: {r.states_stored} states, depth {r.depth_reached}, {r.memory_mb:.1f} MB, "
              f"{verdict.seconds:.1f} s")
    if verdict.valid:
        print(f"trace: VALID: {verdict.why}")
        return 0
    print(f"trace: {'INVALID' if verdict.valid is False else 'UNKNOWN'}: {verdict.why}")
    if verdict.first_untaken is not None:
        print(f"trace: the first event the model cannot take: {describe(verdict.first_untaken)}")
    return 1 if verdict.valid is False else 2


if __name__ == "__main__":
    raise SystemExit(main())
