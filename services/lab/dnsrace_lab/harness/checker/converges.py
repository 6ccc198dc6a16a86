"""Invariant (4) converges: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dnsrace.plans import generation_of_plan_id, generation_of_record_name
from dnsrace.zone_history import Step, alias_of, exists, record_name, zone_at

from dnsrace_lab.harness.checker.verdict import (UNKNOWN, audit_complete, Bounds, completions, FaultWindow, Mark,
                                                 replay_audit, Valid, Verdict)


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
    zone = _ZoneOverTime.of(events, audit, endpoint)
    converged_at = next((moment for moment in [last_stop] + [step.batch.t for step in zone.steps
                                                              if step.batch.t > last_stop] if zone.on_newest(moment)), None)
    found = _Findings(measures={"last_fault_stopped": last_stop})
    if converged_at is None:
        if end < last_stop + bounds.converge_bound_s:
            return Verdict("converges", UNKNOWN, (f"the history ends {end - last_stop:.1f} s after the last fault, "
                                                  f"before the {bounds.converge_bound_s:.0f} s bound, unconverged",))
        target = zone.alias_at(end)
        return Verdict("converges", False, (
            f"the endpoint never reached the newest plan (plan {zone.newest_at(end)}) after the last fault stopped; it "
            f"aliases {target or 'nothing'}" + zone.missing(target, end),),
            (Mark(last_stop + bounds.converge_bound_s, "(4) not converged"),), found.measures)
    _converged_within_the_bound(found, converged_at, last_stop, bounds)
    _stays_on_the_newest(found, zone, converged_at, end, bounds)
    return _clients_answer(found, probes, converged_at, last_stop, end, bounds)


@dataclass(frozen=True)
class _ZoneOverTime:
    """The zone as dns-admin's audit replays it, moment by moment, against the newest plan created by then."""

    steps: list[Step]
    created: list[tuple[float, int]]
    endpoint: str

    @classmethod
    def of(cls, events: Sequence[dict[str, Any]], audit: Sequence[dict[str, Any]], endpoint: str) -> _ZoneOverTime:
        created = sorted((float(e["t"]), generation_of_plan_id(str(e["plan"]))) for e in events
                         if e.get("kind") == "plan_created" and e.get("plan"))
        return cls(replay_audit(audit), created, record_name(endpoint))

    def newest_at(self, t: float) -> int:
        return max((g for at, g in self.created if at <= t), default=0)

    def alias_at(self, moment: float) -> str | None:
        return alias_of(zone_at(self.steps, moment), self.endpoint)

    def on_newest(self, moment: float) -> bool:
        zone = zone_at(self.steps, moment)
        target = alias_of(zone, self.endpoint)
        if target is None:
            return False
        generation = generation_of_record_name(target, self.endpoint)
        return (generation is not None and generation >= self.newest_at(moment)
                and exists(zone, target, complete=True) is True)

    def missing(self, target: str | None, moment: float) -> str:
        there = target is None or exists(zone_at(self.steps, moment), target, complete=True)
        return "" if there else ", which does not exist"


@dataclass
class _Findings:
    valid: Valid = True
    evidence: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    measures: dict[str, Any] = field(default_factory=dict)

    def broken(self, text: str, mark: Mark) -> None:
        self.valid = False
        self.evidence.append(text)
        self.marks.append(mark)

    def verdict(self, valid: Valid | None = None) -> Verdict:
        return Verdict("converges", self.valid if valid is None else valid, tuple(self.evidence), tuple(self.marks),
                       self.measures)


def _converged_within_the_bound(found: _Findings, converged_at: float, last_stop: float, bounds: Bounds) -> None:
    converge_s = converged_at - last_stop
    found.measures["converge_s"] = round(converge_s, 3)
    if converge_s > bounds.converge_bound_s:
        found.broken(f"the endpoint reached the newest plan {converge_s:.1f} s after the last fault stopped "
                     f"(bound {bounds.converge_bound_s:.0f} s)", Mark(converged_at, f"(4) converged late, {converge_s:.1f} s"))
    else:
        found.evidence.append(f"the endpoint was on the newest plan {converge_s:.1f} s after the last fault stopped "
                              f"(bound {bounds.converge_bound_s:.0f} s)")


def _stays_on_the_newest(found: _Findings, zone: _ZoneOverTime, converged_at: float, end: float,
                         bounds: Bounds) -> None:
    """Once converged, it is off the newest plan (a new plan not yet applied, or an alias to a plan that
    is gone) for at most the bound at a time."""
    moments = sorted({step.batch.t for step in zone.steps} | {at for at, _ in zone.created})
    off_since: float | None = None
    for moment in [m for m in moments if m > converged_at] + [end]:
        if zone.on_newest(moment):
            if off_since is not None and moment - off_since > bounds.converge_bound_s:
                break
            off_since = None
        elif off_since is None:
            off_since = moment
    if off_since is not None and end - off_since > bounds.converge_bound_s:
        target = zone.alias_at(off_since)
        found.broken(f"after that it left the newest plan at {bounds.at(off_since)} for more than "
                     f"{bounds.converge_bound_s:.0f} s (it aliased {target or 'nothing'}"
                     + zone.missing(target, off_since) + ")",
                     Mark(off_since, "(4) off the newest plan", off_since + bounds.converge_bound_s))


def _clients_answer(found: _Findings, probes: Sequence[dict[str, Any]], converged_at: float, last_stop: float,
                    end: float, bounds: Bounds) -> Verdict:
    """The authoritative view answers from `ready` on; the resolver may serve a cached empty answer for the
    negative TTL after that (plus reload and positive-TTL slack), and not a moment longer."""
    authoritative = [op for op in completions(probes, "authoritative") if op["t"] >= last_stop]
    last_auth_empty = max((float(op["t"]) for op in authoritative if op["type"] == "fail"), default=None)
    ready = max(converged_at, last_auth_empty or converged_at)
    deadline = ready + bounds.negative_ttl_s + bounds.answer_slack_s
    resolver = [op for op in completions(probes, "resolver") if op["t"] >= last_stop]
    late = [op for op in resolver if op["type"] == "fail" and op["t"] > deadline]
    last_empty = max((float(op["t"]) for op in resolver if op["type"] == "fail"), default=None)
    answered = next((float(op["t"]) for op in resolver if op["type"] == "ok"
                     and (last_empty is None or op["t"] > last_empty)), None)
    if answered is not None:
        found.measures["clients_answer_s"] = round(max(0.0, answered - last_stop), 3)
    if late:
        found.broken(f"the resolver still answered EMPTY {len(late)} times after {bounds.at(deadline)} (the "
                     f"authoritative view answered from {bounds.at(ready)}, negative TTL {bounds.negative_ttl_s:.0f} s + "
                     f"{bounds.answer_slack_s:.0f} s)", Mark(float(late[0]["t"]), "(4) clients still empty", float(late[-1]["t"])))
    elif answered is None:
        if end < deadline:
            found.evidence.append(f"the history ends before the resolver answered and before its bound ({bounds.at(deadline)})")
            return found.verdict(UNKNOWN if found.valid else False)
        found.valid = False
        found.evidence.append("the resolver never answered with addresses after the last fault")
    else:
        found.evidence.append(f"clients (the resolver) answered {answered - last_stop:.1f} s after the last fault stopped")
    return found.verdict()
