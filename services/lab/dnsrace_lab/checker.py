"""The checker: pure functions over a recorded history. No I/O; each is unit-tested on hand-written histories.

    empty_windows(history, process)        when the endpoint answered empty, as runs of `fail` probes
    endpoint_moves(audit, endpoint)        every accepted batch that changed what the endpoint aliases,
                                           replayed from dns-admin's audit (not from the enactors' events)
    backward_moves(moves)                  the moves to an older generation than the one before
    count_rate(history, process)           probes per second actually made (the client's promise)

The zone's history is dnsrace.zone_history's one replay of dns-admin's audit, with each record set's
value: the moves, (3)'s "deleted while referenced", (4)'s zone at a moment and (5)'s final zone all come
from it (the responder's console asks the same functions of dns-admin's events). `replay(audit)` here is
only a bridge for report.py's generation panel, in the shape that panel reads.

The chaos campaign's invariants, each a Verdict (valid True | False | "unknown", with the evidence),
over a whole history (history.py): check_history(history, endpoint) runs them all.
    (1) no-empty-answer       no empty answer at the resolver once the first plan was live; the one
                              exception is the nemesis's own deletion of the live plan, which empties the
                              answer by definition: from it until the authoritative view answers again
                              (at most repair_bound_s), plus the negative TTL and slack, and no longer
    (2) never-back            the endpoint's generation never goes back, replayed from dns-admin's audit
    (3) no-referenced-delete  no plan deleted (by anyone but the nemesis) while the endpoint or the rollback
                              record pointed at it, replayed from the audit
    (4) converges             after the last fault stops, the endpoint is on the newest plan within
                              converge_bound_s, and the resolver answers within the negative TTL (+ slack)
                              of the authoritative view answering
    (5) no-lost-batch         every acknowledged change id is in the final audit as its client's, change
                              numbers have no gap, and dns-admin's final zone is its audit's replay (each
                              alias's target, each A set's addresses and weights)
    (6) no-crash-loop         each enactor restarted at most as often as the nemesis killed it
An audit that does not start at row 1 (cut short), or a history that ends before a bound ran out, gives
"unknown", never a guess. `info` probes (timeouts) never count as empty answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, field
from typing import Any, Literal

from dnsrace import zone_history
from dnsrace.plans import generation_of_plan_id, generation_of_record_name, plan_of_record_name
from dnsrace.zone_history import Move, Step, alias_of, backward_moves, exists, record_name, zone_at

from .stack_names import ENACTORS

__all__ = ["INVARIANTS", "MODEL", "UNKNOWN", "Bounds", "EmptyWindow", "FaultWindow", "Mark", "Move", "Verdict",
           "backward_moves", "check_history", "count_rate", "empty_windows", "endpoint_moves", "fault_windows",
           "overall"]


@dataclass(frozen=True)
class EmptyWindow:
    process: str
    start: float      # the first empty answer
    end: float        # the first answer with addresses after it (or the last empty one, if none came)
    probes: int       # how many empty answers
    closed: bool      # an answer with addresses came after it

    @property
    def seconds(self) -> float:
        return self.end - self.start


def empty_windows(history: Iterable[dict[str, Any]], process: str) -> list[EmptyWindow]:
    """Runs of `fail` completions (certainly empty) of one process; `info` neither opens nor closes one."""
    windows: list[EmptyWindow] = []
    start = last = None
    count = 0
    for op in history:
        if op.get("process") != process or op.get("type") not in ("ok", "fail"):
            continue
        if op["type"] == "fail":
            start = op["t"] if start is None else start
            last, count = op["t"], count + 1
        elif start is not None:
            windows.append(EmptyWindow(process, start, op["t"], count, True))
            start, count = None, 0
    if start is not None and last is not None:
        windows.append(EmptyWindow(process, start, last, count, False))
    return windows


def endpoint_moves(audit: Sequence[dict[str, Any]], endpoint: str) -> list[Move]:
    """Replay the accepted batches in order; one Move per batch that left the endpoint aliasing another name."""
    return zone_history.endpoint_moves(_replay(audit), endpoint)


def count_rate(history: Sequence[dict[str, Any]], process: str) -> float:
    times = [op["t"] for op in history if op.get("process") == process and op.get("type") == "invoke"]
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


# --- the chaos campaign's invariants ------------------------------------------------------------------
#
# Each is a pure function of a whole history (history.py) and the run's parameters, returning a Verdict:
# valid True (held), False (broken: the evidence says where) or "unknown" (the history cannot tell, e.g.
# the audit was cut short or the run ended before a bound ran out). `info` probes never count as empty.

Valid = Literal[True, False, "unknown"]
UNKNOWN: Valid = "unknown"
NEMESIS_CLIENT = "nemesis"          # the nemesis's own batches (its deletion is the fault, not a violation)
ACKNOWLEDGING_EVENTS = ("record_set_written", "endpoint_pointed", "cleanup_deleted")
MODEL = "model"     # not an invariant of the system: the code against its model (conformance.py)
INVARIANTS = ("no-empty-answer", "never-back", "no-referenced-delete", "converges", "no-lost-batch",
              "no-crash-loop")
TITLES = {
    "no-empty-answer": "(1) no empty answer at the resolver once the first plan was live",
    "never-back": "(2) the endpoint's generation never goes back (dns-admin's audit)",
    "no-referenced-delete": "(3) no plan deleted while the endpoint or rollback pointed at it",
    "converges": "(4) after the last fault: the endpoint on the newest plan, then clients answer, within bounds",
    "no-lost-batch": "(5) no acknowledged batch lost across dns-admin restarts",
    "no-crash-loop": "(6) no enactor crash loop: restarts <= the kills the nemesis made",
    MODEL: "(M) the services' events are a behaviour of the Promela model (model/, trace check)",
}


@dataclass(frozen=True)
class Mark:
    """Where a verdict points on the run's time axis: an instant, or a window when `until` is set."""

    t: float
    label: str
    until: float | None = None


@dataclass(frozen=True)
class Verdict:
    invariant: str
    valid: Valid
    evidence: tuple[str, ...]
    marks: tuple[Mark, ...] = ()
    measures: dict[str, Any] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return TITLES[self.invariant]

    def to_json(self) -> dict[str, Any]:
        return {"invariant": self.invariant, "title": self.title, "valid": self.valid,
                "evidence": list(self.evidence), "measures": self.measures,
                "marks": [{"t": m.t, "label": m.label, "until": m.until} for m in self.marks]}


@dataclass(frozen=True)
class FaultWindow:
    id: Any
    fault: str
    target: str
    start: float
    stop: float | None     # None: never stopped in the history
    detail: dict[str, Any]


@dataclass(frozen=True)
class Bounds:
    """The bounds the invariants hold a run to: a chaos run's come with its schedule's parameters, a
    reproduce-outage run's are its scenario's (outage.py's SCENARIO_BOUNDS), in the run line either way."""

    converge_bound_s: float = 15.0
    negative_ttl_s: float = 15.0
    repair_bound_s: float = 10.0
    answer_slack_s: float = 2.0
    views: tuple[str, ...] = ("resolver",)   # whose empty answers (1) judges (the client's processes)
    origin: float = 0.0     # the history's first moment: evidence counts time from it ("+12.3 s")

    @classmethod
    def from_run(cls, run: dict[str, Any], origin: float = 0.0) -> Bounds:
        """From the run line's `bounds` (reproduce-outage), else its schedule's parameters (chaos)."""
        given = run.get("bounds") or (run.get("schedule") or {}).get("parameters") or {}
        numbers = {name: float(given[name]) for name in ("converge_bound_s", "negative_ttl_s", "repair_bound_s",
                                                         "answer_slack_s") if name in given}
        views = tuple(str(view) for view in given.get("views") or ("resolver",))
        unknown = set(views) - {"resolver", "authoritative"}
        if unknown:
            raise ValueError(f"the run's bounds name views no probe records: {sorted(unknown)}")
        return cls(**numbers, views=views, origin=origin)

    def to_json(self) -> dict[str, Any]:
        return {"converge_bound_s": self.converge_bound_s, "negative_ttl_s": self.negative_ttl_s,
                "repair_bound_s": self.repair_bound_s, "answer_slack_s": self.answer_slack_s,
                "views": list(self.views)}

    def at(self, t: float) -> str:
        return f"+{t - self.origin:.1f} s"


def check_history(history: Sequence[dict[str, Any]], endpoint: str) -> dict[str, Verdict]:
    """Every invariant over one history (history.py's rows, the run line first)."""
    run = history[0] if history and history[0].get("source") == "run" else {}
    probes = [r for r in history if r.get("source") == "client"]
    bounds = Bounds.from_run(run, origin=min((float(r["t"]) for r in probes), default=0.0))
    nemesis = [r for r in history if r.get("source") == "nemesis"]
    events = [r for r in history if r.get("source") == "event"]
    audit = [r for r in history if r.get("source") == "audit"]
    observations = [r for r in history if r.get("source") == "observation"]
    end = max((float(r.get("t") or 0) for r in history[1:]), default=0.0)
    windows = fault_windows(nemesis)
    return {
        "no-empty-answer": check_no_empty_answer(probes, windows, bounds),
        "never-back": check_never_back(audit, endpoint),
        "no-referenced-delete": check_no_referenced_delete(audit, endpoint, windows),
        "converges": check_converges(probes, windows, events, audit, endpoint, bounds, end),
        "no-lost-batch": check_no_lost_batch(events, nemesis, audit, observations, windows),
        "no-crash-loop": check_no_crash_loop(events, windows, observations),
    }


def overall(verdicts: Mapping[str, Verdict]) -> Valid:
    """False if any verdict is; else unknown if an invariant's is. The model's verdict counts when it is
    decided (invalid: the code and its model drifted apart); an unknown one says the run left the model's
    scope (an event trace.UNMODELLED lists), which is a statement about the model, not about the run."""
    values = [v.valid for name, v in verdicts.items() if not (name == MODEL and v.valid == UNKNOWN)]
    if False in values:
        return False
    return UNKNOWN if UNKNOWN in values else True


def fault_windows(nemesis: Iterable[dict[str, Any]]) -> list[FaultWindow]:
    """Start/stop pairs, matched by fault id (the campaign's) or by fault and target (the scenarios').
    heal()'s `fault: all` stop ends every window still open."""
    open_: dict[Any, dict[str, Any]] = {}
    windows: list[FaultWindow] = []
    for row in sorted(nemesis, key=lambda r: float(r.get("t") or 0)):
        kind = row.get("type")
        key = row.get("id") if row.get("id") is not None else (row.get("fault"), row.get("target"))
        if kind == "fault_started":
            open_[key] = row
        elif kind == "fault_stopped" and row.get("fault") == "all":
            for started in open_.values():
                windows.append(_window(started, float(row["t"])))
            open_.clear()
        elif kind == "fault_stopped" and key in open_:
            windows.append(_window(open_.pop(key), float(row["t"])))
    windows += [_window(started, None) for started in open_.values()]
    return sorted(windows, key=lambda w: w.start)


def _window(started: dict[str, Any], stop: float | None) -> FaultWindow:
    skip = {"source", "type", "t", "id", "fault", "target"}
    return FaultWindow(started.get("id"), str(started.get("fault")), str(started.get("target")), float(started["t"]),
                       stop, {k: v for k, v in started.items() if k not in skip})


def _completions(probes: Iterable[dict[str, Any]], process: str) -> list[dict[str, Any]]:
    return sorted((op for op in probes if op.get("process") == process and op.get("type") in ("ok", "fail", "info")),
                  key=lambda op: float(op["t"]))


# (1) ----------------------------------------------------------------------------------------------------

def deletion_excuses(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                     bounds: Bounds, view: str = "resolver") -> list[tuple[float, float]]:
    """When an empty answer is the deletion's own doing, not the system's: from the deletion until the
    authoritative view answered again (at most repair_bound_s), plus the slack of CoreDNS's reload and
    the positive TTL, plus, for the resolver, the negative-cache TTL it may keep the empty answer for."""
    cache_s = bounds.negative_ttl_s if view == "resolver" else 0.0
    return [(start, back + cache_s + bounds.answer_slack_s) for start, back in repairs(probes, windows, bounds)]


def repairs(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
            bounds: Bounds) -> list[tuple[float, float]]:
    """(deletion, when the authoritative view answered again, at most repair_bound_s later) per deletion."""
    authoritative = _completions(probes, "authoritative")
    found = []
    for deletion in (w for w in windows if w.fault == "delete-live-plan"):
        back = deletion.start
        seen_empty = False
        for op in authoritative:
            if op["t"] < deletion.start:
                continue
            if op["type"] == "fail":
                seen_empty = True
            elif op["type"] == "ok" and seen_empty:
                back = float(op["t"])
                break
        else:
            back = deletion.start + bounds.repair_bound_s if seen_empty else deletion.start
        found.append((deletion.start, min(back, deletion.start + bounds.repair_bound_s)))
    return found


def check_no_empty_answer(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                          bounds: Bounds) -> Verdict:
    """Each view of bounds.views (the resolver; a scenario may add the authoritative view) judged alone;
    the verdict is the worst of them, its evidence theirs in order."""
    judged = [_no_empty_answer(probes, windows, bounds, view) for view in bounds.views]
    if len(judged) == 1:
        return judged[0]
    valid: Valid = False if any(v.valid is False for v in judged) else (
        UNKNOWN if any(v.valid == UNKNOWN for v in judged) else True)
    return Verdict("no-empty-answer", valid, tuple(line for v in judged for line in v.evidence),
                   tuple(mark for v in judged for mark in v.marks),
                   {**judged[0].measures, **{view: v.measures for view, v in zip(bounds.views[1:], judged[1:])}})


def _no_empty_answer(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow], bounds: Bounds,
                     view: str) -> Verdict:
    name = "the resolver" if view == "resolver" else f"the {view} view"
    answers = _completions(probes, view)
    first_ok = next((op for op in answers if op["type"] == "ok"), None)
    if first_ok is None:
        return Verdict("no-empty-answer", UNKNOWN, (f"{name} never answered with addresses: no plan was "
                                                    f"seen live ({len(answers)} completions)",))
    live_from = float(first_ok["t"])
    excuses = deletion_excuses(probes, windows, bounds, view)
    after = [op for op in answers if op["t"] >= live_from]
    every = empty_windows(after, view)
    unexcused_ops = [op for op in after if op["type"] == "fail"
                     and not any(start <= op["t"] <= end for start, end in excuses)]
    # Windows of unexcused empties: the same runs, where an excused empty, like `info`, neither opens nor closes one.
    counted = {id(op) for op in unexcused_ops}
    unexcused = empty_windows([op for op in after if op["type"] != "fail" or id(op) in counted], view)
    longest = max((w.seconds for w in every), default=0.0)
    measures: dict[str, Any] = {
        "empty_answers": sum(w.probes for w in every), "longest_empty_s": round(longest, 3),
        "excused_empty_answers": sum(w.probes for w in every) - len(unexcused_ops),
        "timeouts": sum(1 for op in after if op["type"] == "info"), "answers": len(after)}
    if view == "authoritative":
        found = repairs(probes, windows, bounds)
        measures["repaired_s"] = [round(back - start, 3) for start, back in found]
        excuse_text = "".join(f"; the deletion at {bounds.at(start)} was repaired {back - start:.1f} s later (the "
                              f"authoritative view answered again; bound {bounds.repair_bound_s:g} s)"
                              for start, back in found)
    else:
        excuse_text = "".join(f"; the deletion at {bounds.at(start)} excuses empty answers until {bounds.at(end)}"
                              for start, end in excuses)
    if not unexcused:
        return Verdict("no-empty-answer", True, (
            f"{len(after)} {view} answers since the first plan was live, none empty beyond what a deletion "
            f"excuses ({measures['excused_empty_answers']} excused, {measures['timeouts']} timeouts, never counted)"
            + excuse_text,), measures=measures)
    evidence = [f"{name} answered EMPTY {len(unexcused_ops)} times in {len(unexcused)} window(s), "
                f"the longest {max(w.seconds for w in unexcused):.1f} s" + ("" if unexcused[-1].closed else
                                                                             ", the last one never closed")
                + excuse_text]
    for window in unexcused[:5]:
        rcode = next((op.get("rcode") for op in unexcused_ops if op["t"] == window.start), "?")
        evidence.append(f"empty ({rcode}) from {bounds.at(window.start)} to {bounds.at(window.end)} "
                        f"({window.probes} answers)")
    label = "(1) empty" if view == "resolver" else f"(1) {view} empty"
    marks = tuple(Mark(w.start, f"{label} {w.seconds:.1f} s", w.end) for w in unexcused)
    return Verdict("no-empty-answer", False, tuple(evidence), marks, measures)


# The zone as dns-admin's audit says it was: dnsrace.zone_history's replay of the accepted batches. ----

def audit_complete(audit: Sequence[dict[str, Any]]) -> str | None:
    """None when the audit holds every row since the stack's reset (seq 1, 2, ... without a gap); else why not."""
    seqs = sorted(int(row.get("seq") or 0) for row in audit)
    if not seqs:
        return "the audit is empty"
    if seqs[0] != 1:
        return f"the audit starts at row {seqs[0]}, not 1 (cut short: dns-admin returns the newest 1000)"
    gaps = [b for a, b in zip(seqs, seqs[1:]) if b != a + 1]
    return f"the audit skips rows before {gaps[0]}" if gaps else None


def _replay(audit: Sequence[dict[str, Any]]) -> list[Step]:
    """(batch, zone before, zone after) for every accepted batch, in the order dns-admin applied them; the
    audit is read from its first row (audit_complete), so a name never written is absent."""
    return zone_history.replay(zone_history.batches_from_audit(audit), complete=True)


# (2) ----------------------------------------------------------------------------------------------------

def check_never_back(audit: Sequence[dict[str, Any]], endpoint: str) -> Verdict:
    if (why := audit_complete(audit)) is not None:
        return Verdict("never-back", UNKNOWN, (why,))
    moves = endpoint_moves(audit, endpoint)
    back = backward_moves(moves)
    measures = {"moves": len(moves), "backward_moves": len(back)}
    if not back:
        return Verdict("never-back", True, (f"{len(moves)} endpoint moves replayed from {len(audit)} audit rows, "
                                            "each to a newer plan",), measures=measures)
    evidence = tuple(f"{m.change_id} by {m.client} moved the endpoint BACK from plan {m.before} to plan {m.after}"
                     for m in back)
    return Verdict("never-back", False, evidence,
                   tuple(Mark(m.t, f"(2) back {m.before}->{m.after} by {m.client}") for m in back), measures)


# (3) ----------------------------------------------------------------------------------------------------

def check_no_referenced_delete(audit: Sequence[dict[str, Any]], endpoint: str,
                               windows: Sequence[FaultWindow] = ()) -> Verdict:
    """A deletion that is itself a fault (the nemesis's, or a scenario's operator mistake: a
    delete-live-plan window names its change id) is the fault, not a violation."""
    if (why := audit_complete(audit)) is not None:
        return Verdict("no-referenced-delete", UNKNOWN, (why,))
    steps = _replay(audit)
    deletions = sum(1 for step in steps for change in step.batch.changes if change.action == "DELETE"
                    and change.type == "A" and generation_of_record_name(change.name, record_name(endpoint)) is not None)
    faults = {str(w.detail.get("change_id")) for w in windows if w.fault == "delete-live-plan"}
    found = [(deletion.step.batch, deletion.name, deletion.reference)
             for deletion in zone_history.referenced_deletions(steps, endpoint, exempt=(NEMESIS_CLIENT,))
             if deletion.step.batch.change_id not in faults]
    measures = {"plan_deletions": deletions, "referenced_deletions": len(found)}
    if not found:
        return Verdict("no-referenced-delete", True, (f"{deletions} plan record sets deleted, none while the "
                                                      "endpoint or the rollback record pointed at it",),
                       measures=measures)
    evidence = tuple(f"{batch.change_id} by {batch.client} ({batch.comment}) deleted "
                     f"{plan_of_record_name(name)} while {label} pointed at it" for batch, name, label in found)
    marks = tuple(Mark(batch.t, f"(3) {batch.client} deleted live {plan_of_record_name(name)}")
                  for batch, name, _ in found)
    return Verdict("no-referenced-delete", False, evidence, marks, measures)


# (4) ----------------------------------------------------------------------------------------------------

def check_converges(probes: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                    events: Sequence[dict[str, Any]], audit: Sequence[dict[str, Any]], endpoint: str,
                    bounds: Bounds, end: float) -> Verdict:
    if not windows:
        return Verdict("converges", UNKNOWN, ("no fault in the history: nothing to recover from",))
    if any(w.stop is None for w in windows):
        still = ", ".join(f"{w.fault} {w.target}" for w in windows if w.stop is None)
        return Verdict("converges", UNKNOWN, (f"a fault never stopped in the history: {still}",))
    if (why := audit_complete(audit)) is not None:
        return Verdict("converges", UNKNOWN, (why,))
    last_stop = max(float(w.stop or 0) for w in windows)
    endpoint = record_name(endpoint)
    created = sorted((float(e["t"]), generation_of_plan_id(str(e["plan"]))) for e in events
                     if e.get("kind") == "plan_created" and e.get("plan"))
    steps = _replay(audit)

    def newest_at(t: float) -> int:
        return max((g for at, g in created if at <= t), default=0)

    def on_newest(moment: float) -> bool:
        zone = zone_at(steps, moment)
        target = alias_of(zone, endpoint)
        if target is None:
            return False
        generation = generation_of_record_name(target, endpoint)
        return generation is not None and generation >= newest_at(moment) and exists(zone, target, complete=True) is True

    def missing(target: str | None, moment: float) -> str:
        return "" if target is None or exists(zone_at(steps, moment), target, complete=True) else ", which does not exist"

    converged_at = next((moment for moment in [last_stop] + [step.batch.t for step in steps
                                                              if step.batch.t > last_stop] if on_newest(moment)), None)
    measures: dict[str, Any] = {"last_fault_stopped": last_stop}
    marks: list[Mark] = []
    evidence: list[str] = []
    if converged_at is None:
        if end < last_stop + bounds.converge_bound_s:
            return Verdict("converges", UNKNOWN, (f"the history ends {end - last_stop:.1f} s after the last fault, "
                                                  f"before the {bounds.converge_bound_s:.0f} s bound, unconverged",))
        target = alias_of(zone_at(steps, end), endpoint)
        return Verdict("converges", False, (
            f"the endpoint never reached the newest plan (plan {newest_at(end)}) after the last fault stopped; it "
            f"aliases {target or 'nothing'}" + missing(target, end),),
            (Mark(last_stop + bounds.converge_bound_s, "(4) not converged"),), measures)
    converge_s = converged_at - last_stop
    measures["converge_s"] = round(converge_s, 3)
    valid: Valid = True
    if converge_s > bounds.converge_bound_s:
        valid = False
        evidence.append(f"the endpoint reached the newest plan {converge_s:.1f} s after the last fault stopped "
                        f"(bound {bounds.converge_bound_s:.0f} s)")
        marks.append(Mark(converged_at, f"(4) converged late, {converge_s:.1f} s"))
    else:
        evidence.append(f"the endpoint was on the newest plan {converge_s:.1f} s after the last fault stopped "
                        f"(bound {bounds.converge_bound_s:.0f} s)")
    # And it stays there: once converged, it is off the newest plan (a new plan not yet applied, or an
    # alias to a plan that is gone) for at most the bound at a time.
    moments = sorted({step.batch.t for step in steps} | {at for at, _ in created})
    off_since: float | None = None
    for moment in [m for m in moments if m > converged_at] + [end]:
        if on_newest(moment):
            if off_since is not None and moment - off_since > bounds.converge_bound_s:
                break
            off_since = None
        elif off_since is None:
            off_since = moment
    if off_since is not None and end - off_since > bounds.converge_bound_s:
        target = alias_of(zone_at(steps, off_since), endpoint)
        valid = False
        evidence.append(f"after that it left the newest plan at {bounds.at(off_since)} for more than "
                        f"{bounds.converge_bound_s:.0f} s (it aliased {target or 'nothing'}"
                        + missing(target, off_since) + ")")
        marks.append(Mark(off_since, "(4) off the newest plan", off_since + bounds.converge_bound_s))
    # Clients: the authoritative view answers from `ready` on; the resolver may serve a cached empty answer
    # for the negative TTL after that (plus reload and positive-TTL slack), and not a moment longer.
    authoritative = [op for op in _completions(probes, "authoritative") if op["t"] >= last_stop]
    last_auth_empty = max((float(op["t"]) for op in authoritative if op["type"] == "fail"), default=None)
    ready = max(converged_at, last_auth_empty or converged_at)
    deadline = ready + bounds.negative_ttl_s + bounds.answer_slack_s
    resolver = [op for op in _completions(probes, "resolver") if op["t"] >= last_stop]
    late = [op for op in resolver if op["type"] == "fail" and op["t"] > deadline]
    last_empty = max((float(op["t"]) for op in resolver if op["type"] == "fail"), default=None)
    answered = next((float(op["t"]) for op in resolver if op["type"] == "ok"
                     and (last_empty is None or op["t"] > last_empty)), None)
    if answered is not None:
        measures["clients_answer_s"] = round(max(0.0, answered - last_stop), 3)
    if late:
        valid = False
        evidence.append(f"the resolver still answered EMPTY {len(late)} times after {bounds.at(deadline)} (the "
                        f"authoritative view answered from {bounds.at(ready)}, negative TTL {bounds.negative_ttl_s:.0f} s + "
                        f"{bounds.answer_slack_s:.0f} s)")
        marks.append(Mark(float(late[0]["t"]), "(4) clients still empty", float(late[-1]["t"])))
    elif answered is None:
        if end < deadline:
            return Verdict("converges", UNKNOWN if valid else False, (
                *evidence, f"the history ends before the resolver answered and before its bound ({bounds.at(deadline)})"),
                tuple(marks), measures)
        valid = False
        evidence.append("the resolver never answered with addresses after the last fault")
    else:
        evidence.append(f"clients (the resolver) answered {answered - last_stop:.1f} s after the last fault stopped")
    return Verdict("converges", valid, tuple(evidence), tuple(marks), measures)


# (5) ----------------------------------------------------------------------------------------------------

def check_no_lost_batch(events: Sequence[dict[str, Any]], nemesis: Sequence[dict[str, Any]],
                        audit: Sequence[dict[str, Any]], observations: Sequence[dict[str, Any]],
                        windows: Sequence[FaultWindow]) -> Verdict:
    """Every change id a client was given (an ack) is in the final audit, as that client's batch; the
    accepted change numbers run 1..n without a gap; and the zone dns-admin lists at the end is the one its
    audit replays to. A batch whose answer was lost (`info`) may or may not be there: not checked."""
    if (why := audit_complete(audit)) is not None:
        return Verdict("no-lost-batch", UNKNOWN, (why,))
    restarts = sum(1 for w in windows if w.fault == "kill-dns-admin")
    accepted = {str(row["change_id"]): row for row in audit if row.get("outcome") == "accepted"}
    claims: list[tuple[float, str, str, str | None]] = []     # (t, change id, client, comment or None)
    for event in events:
        change_id = (event.get("detail") or {}).get("change_id")
        if not change_id:
            continue
        if event.get("kind") in ACKNOWLEDGING_EVENTS:
            claims.append((float(event["t"]), str(change_id), str(event.get("service")), None))
        elif event.get("service") == "dns-admin" and event.get("kind") == "batch_accepted":
            detail = event["detail"]
            claims.append((float(event["t"]), str(change_id), str(detail.get("client") or ""), detail.get("comment")))
    claims += [(float(row["t"]), str(row["change_id"]), str(row.get("client") or NEMESIS_CLIENT), None) for row in nemesis
               if row.get("type") == "fault_started" and row.get("fault") == "delete-live-plan" and row.get("change_id")]
    problems: list[tuple[float, str]] = []
    reported: set[str] = set()
    for t, change_id, client, comment in sorted(claims, key=lambda claim: (claim[0], claim[1])):
        row = accepted.get(change_id)
        if change_id in reported:
            continue   # one acknowledgement per batch is enough to say so (the client's and dns-admin's echo)
        if row is None:
            reported.add(change_id)
            problems.append((t, f"{change_id}, acknowledged to {client}, is not in the audit as accepted"))
        elif str(row.get("client") or "") != client or (comment is not None and row.get("comment") != comment):
            reported.add(change_id)
            problems.append((t, f"{change_id} was acknowledged to {client} ({comment or 'its batch'}), but the audit "
                                f"holds {row.get('client')}'s \"{row.get('comment')}\" under it: a batch was lost "
                                f"and its number given again"))
    numbers = sorted(int(change_id.rsplit("-", 1)[-1]) for change_id in accepted)
    if numbers and numbers != list(range(1, len(numbers) + 1)):
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))[:5]
        problems.append((0.0, f"accepted change numbers have gaps (missing {missing}): committed batches are gone"))
    final = next((o for o in reversed(observations) if o.get("record_sets") is not None and o.get("serial")), None)
    if final is not None:
        # The listing came with its serial (change number + 1): replay exactly the batches it includes.
        listed = zone_history.listed_zone(final["record_sets"])
        included = [row for row in audit if row.get("outcome") != "accepted"
                    or int(str(row["change_id"]).rsplit("-", 1)[-1]) < int(final["serial"])]
        steps = _replay(included)
        replayed = steps[-1].after if steps else {}
        if listed != replayed:
            differ = sorted((key, astuple(value)) for key, value in set(listed.items()) ^ set(replayed.items())
                            if value is not None)[:4]
            problems.append((float(final["t"]), f"the zone dns-admin lists differs from its audit's replay: {differ}"))
    measures = {"acknowledged": len(claims), "dns_admin_restarts": restarts, "accepted": len(accepted)}
    if not problems:
        return Verdict("no-lost-batch", True, (
            f"{len(claims)} acknowledgements, every one in the final audit as its client's batch; change numbers "
            f"1..{len(accepted)} without a gap" + ("; the final zone is the audit's replay" if final else "")
            + f"; dns-admin killed {restarts} time(s)",), measures=measures)
    return Verdict("no-lost-batch", False, tuple(text for _, text in problems),
                   tuple(Mark(t, "(5) lost batch") for t, _ in problems if t), measures)


# (6) ----------------------------------------------------------------------------------------------------

def _crash_causes(crashes: Sequence[dict[str, Any]], unexplained: int) -> str:
    """What the enactor said it died of (exception at file:line), and how many deaths it never explained."""
    causes = sorted({f"{detail.get('exception')} at {detail.get('raised_at') or detail.get('protocol_at')}"
                     for detail in ((c.get("detail") or {}) for c in crashes)})
    said = f"; crashed with {', '.join(causes)}" if causes else ""
    silent = unexplained - len(crashes)
    return said + (f"; {silent} restart(s) with no crash event (a death from outside: SIGKILL, OOM?)"
                   if silent > 0 else "")


def check_no_crash_loop(events: Sequence[dict[str, Any]], windows: Sequence[FaultWindow],
                        observations: Sequence[dict[str, Any]], enactors: Sequence[str] = ENACTORS) -> Verdict:
    counts = next((o["restart_counts"] for o in reversed(observations) if o.get("restart_counts") is not None), None)
    started = {name: sum(1 for e in events if e.get("service") == name and e.get("kind") == "enactor_started")
               for name in enactors}
    if counts is None and not any(started.values()):
        return Verdict("no-crash-loop", UNKNOWN, ("neither docker's restart counts nor any enactor_started event "
                                                  "is in the history",))
    problems, lines, marks = [], [], []
    measures: dict[str, Any] = {}
    for name in enactors:
        kills = sum(1 for w in windows if w.fault == "kill-enactor" and w.target == name)
        crashes = [e for e in events if e.get("service") == name and e.get("kind") == "enactor_crashed"]
        docker = int((counts or {}).get(name) or 0)
        restarts = max(docker, started[name] - 1 if started[name] else 0, len(crashes))
        measures[name] = {"restarts": restarts, "kills": kills, "crashes": len(crashes)}
        line = (f"{name}: {restarts} restart(s) (docker {docker}, {started[name]} start event(s), "
                f"{len(crashes)} crash(es)), {kills} kill(s) by the nemesis")
        lines.append(line)
        if restarts > kills:
            problems.append(line + _crash_causes(crashes, restarts - kills))
            marks += [Mark(float(c["t"]), f"(6) {name} crashed") for c in crashes[:6]]
    if problems:
        return Verdict("no-crash-loop", False, tuple(problems), tuple(marks), measures)
    return Verdict("no-crash-loop", True, tuple(lines), measures=measures)
