"""The `model` verdict of a recorded run: is what the services did a behaviour of model/dnsrace.pml?

The campaign's six invariants judge the system from outside (DNS probes, dns-admin's audit). This one
judges the code against its model: the run's service events are handed to the model's trace check
(model/dnsrace_model/trace.py, Spin under the hood), which asks whether some execution of the same
Promela model, in the run's mode, takes every recorded step in order. Valid: the code did nothing the
model cannot do, so what the model proves (safe) or finds (legacy) is about this code. Invalid: the
code and the model have drifted apart, and the first event no execution can take is named. Legacy runs
are expected to be valid too: the model has the incident's bug.

The model has the campaign's faults as the code meets them: a call that fails outside the protocol (a
lost answer, a reset connection, Redis gone) ends the pass (legacy: the process dies; safe:
apply_failed), and SIGKILL ends it silently until the restart (model/trace_hooks.pml). What it still
leaves out (trace.UNMODELLED: a plan refused as malformed, safe's freeze, dns-admin unsure of its own
commit, a graceful stop; and a lock taken in Redis whose holder never heard so, its answer lost to a
partition or a reset: the model's lock answers every acquire, so a refusal naming a token no
`lock_acquired` event announced is beyond it; nor is an enactor refused by its own lease from before a
SIGKILL, as the model's lock never refuses its holder): when the first event no execution takes is one of these, the run left the
model's scope there. The prefix before the fault that led there is checked on its own; the verdict is
unknown, not invalid, and says how far the run was checked. Any other first event is drift: invalid.

This module is the edge (it runs spin through dnsrace_model); the verdict's shape is the checker's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dnsrace.events import Event

from dnsrace_lab.harness.checker import MODEL, UNKNOWN, Mark, Verdict

__all__ = ["DISRUPTIVE", "MODEL", "announced_tokens", "cut_before", "judge", "outside_the_model"]

TIMEOUT_S = 180.0


def judge(recorded: Sequence[dict[str, Any]], *, timeout_s: float = TIMEOUT_S) -> Verdict:
    """The model verdict of a whole history (its "run" row says the mode; the events are checked)."""
    try:
        from dnsrace_model import spin, trace
    except ImportError as error:
        return Verdict(MODEL, UNKNOWN, (f"the model's trace check cannot be imported ({error}); "
                                        "PYTHONPATH needs model/ and services/dns-admin",))
    try:
        events, run = trace.load_events(json.dumps(row, default=str) for row in recorded)
        settings = trace.settings_for(events, run)
        model = trace.build(events, settings)
        verdict = trace.check(model, timeout_s=timeout_s)
        measures: dict[str, Any] = {"events": len(model.steps), "skipped": sum(model.skipped.values()),
                                    "seconds": round(verdict.seconds, 1)}
        if verdict.report is not None:
            measures |= {"states": verdict.report.states_stored, "depth": verdict.report.depth_reached}
        if verdict.valid is True:
            return Verdict(MODEL, True, (verdict.why,), (), measures | {"checked": len(model.steps)})
        # Not the whole run: is it drift, or did the run leave the model's scope? The prefix before the
        # first fault whose effects the model leaves out is checked on its own.
        ordered = sorted(events, key=lambda e: e.t)
        announced = announced_tokens(events)
        out = next(((e, why) for e in ordered if e.kind not in trace.SKIPPED
                    for why in [outside_the_model(e, trace.UNMODELLED, announced)] if why), None)
        if out is None or verdict.valid is None:
            return _whole_run(verdict, measures, trace)
        event, why = out
        cut_t, cut_by = cut_before(event, recorded)
        prefix = trace.build([e for e in events if e.t < cut_t], settings)
        partial = trace.check(prefix, timeout_s=timeout_s)
    except (trace.TraceError, spin.SpinError, OSError) as error:
        return Verdict(MODEL, UNKNOWN, (f"the trace check could not run: {error}",))
    measures["checked"] = len(prefix.steps)
    if partial.valid is True:
        return Verdict(MODEL, UNKNOWN, (
            f"outside the model from {cut_by}: {why}",
            f"the {len(prefix.steps)} events before it are a behaviour of the model (of {len(model.steps)})",
            "the first event the model cannot take in the whole run: "
            + (trace.describe(verdict.first_untaken) if verdict.first_untaken else "not named")),
            (Mark(cut_t, "model: the run leaves the model's scope"),), measures)
    return _whole_run(partial, measures, trace, before=f"before {cut_by}, where the run leaves the model's scope")


def _whole_run(verdict: Any, measures: dict[str, Any], trace: Any, *, before: str = "") -> Verdict:
    """Drift (invalid) or an unknown verdict, with the first event no execution takes."""
    evidence = [verdict.why + (f" ({before})" if before else "")]
    marks: tuple[Mark, ...] = ()
    if verdict.first_untaken is not None:
        evidence.append("the first event the model cannot take: " + trace.describe(verdict.first_untaken))
        marks = (Mark(verdict.first_untaken.event.t, "model: first event no execution takes"),)
    return Verdict(MODEL, UNKNOWN if verdict.valid is None else verdict.valid, tuple(evidence), marks, measures)


# The nemesis's faults that lose answers or processes; latency, holds and pauses only slow things down
# (a pause past the lease is the model's lease expiry), and the operator's deletion is the model's operator.
DISRUPTIVE = ("timeout", "reset-peer", "partition", "kill-enactor", "kill-redis", "kill-dns-admin")


def cut_before(event: Event, recorded: Sequence[dict[str, Any]]) -> tuple[float, str]:
    """Where the checked prefix ends: at the start of the last disruptive fault before `event` (its
    effects may show before the event that names them), else at the event itself."""
    starts = [row for row in recorded if row.get("source") == "nemesis" and row.get("type") == "fault_started"
              and row.get("fault") in DISRUPTIVE and float(row.get("t", 0)) < event.t]
    if starts:
        last = max(starts, key=lambda row: float(row["t"]))
        return float(last["t"]), f"the {last['fault']} fault on {last.get('target')} (#{event.seq} {event.kind} follows)"
    return event.t, f"#{event.seq} {event.kind}"

def announced_tokens(events: Sequence[Event]) -> set[int]:
    """The lock tokens some enactor said it took (lock_acquired), anywhere in the run."""
    return {e.token for e in events if e.kind == "lock_acquired" and isinstance(e.token, int)}


def outside_the_model(event: Event, unmodelled: Mapping[str, str], announced: set[int] | None = None) -> str | None:
    """Why this event is beyond what the model has a step for, or None (then the model should take it).
    `announced`: the tokens of every lock_acquired event of the run (None: not asked)."""
    if event.kind in unmodelled:
        return f"{event.kind}: {unmodelled[event.kind]}"
    if event.kind == "lock_refused":
        holder, _, token = str(event.detail.get("held_by") or "").rpartition(":")
        if holder == event.service:
            return (f"lock_refused: {holder} refused by its own lease (token {token}), taken before it was "
                    "killed and restarted: the model's lock never refuses its holder")
        if announced is not None and token.isdigit() and int(token) not in announced:
            return (f"lock_refused: the lock is held by {holder} with token {token}, which no lock_acquired "
                    "event announced (its acquire's answer was lost: the model's lock answers every acquire)")
    return None
