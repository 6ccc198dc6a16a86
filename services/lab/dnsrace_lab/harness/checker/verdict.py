"""What every invariant shares: the Verdict it returns, the run's Bounds, the fault windows and
empty windows read from a history, and the audit's replay (dnsrace.zone_history) from its first row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dnsrace import zone_history
from dnsrace.zone_history import Move, Step



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
    return zone_history.endpoint_moves(replay_audit(audit), endpoint)


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
# Judged only in runs whose bounds ask for it (lease_recovery_bound_s: the cascade's scenarios, and
# `make chaos CASCADE=1`).
CASCADE_INVARIANTS = ("leases-recover",)
LEASE_RECOVERY_BOUND_S = 60.0       # (7): >= 95 % leased within this of DNS answering again
# Judged only in runs whose bounds ask for them (client_recovery_bound_s: the cascade's act 2, issue 24).
NETWORK_INVARIANTS = ("capacity-held", "clients-recover")
CLIENT_RECOVERY_BOUND_S = 60.0      # (9): every second's success rate >= 95 % from at most this long after DNS is back
STORAGE_CUT = "partition-dynamodb"  # the campaign's fault on the lease manager's path (chaos/generator.py)
PROPAGATION_STORM = "propagation-storm"  # the campaign's fault on Network Manager (chaos/generator.py)
TITLES = {
    "no-empty-answer": "(1) no empty answer at the resolver once the first plan was live",
    "never-back": "(2) the endpoint's generation never goes back (dns-admin's audit)",
    "no-referenced-delete": "(3) no plan deleted while the endpoint or rollback pointed at it",
    "converges": "(4) after the last fault: the endpoint on the newest plan, then clients answer, within bounds",
    "no-lost-batch": "(5) no acknowledged batch lost across dns-admin restarts",
    "no-crash-loop": "(6) no enactor crash loop: restarts <= the kills the nemesis made",
    "leases-recover": "(7) after DNS answers again, the lease manager has >= 95 % of droplets leased within its bound",
    "capacity-held": ("(8) the load balancer takes out no answering target, at most a quarter of them per 10 s, "
                      "never below half in service"),
    "clients-recover": "(9) within its bound after DNS answers again, the clients are served (>= 95 % every second) to the end",
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
    reproduce-outage run's are its scenario's (outage/run.py's SCENARIO_BOUNDS), in the run line either way."""

    converge_bound_s: float = 15.0
    negative_ttl_s: float = 15.0
    repair_bound_s: float = 10.0
    answer_slack_s: float = 2.0
    views: tuple[str, ...] = ("resolver",)   # whose empty answers (1) judges (the client's processes)
    lease_recovery_bound_s: float | None = None   # (7): None, not judged (no cascade in the run)
    leased_fraction: float = 0.95                  # (7): what "recovered" means
    client_recovery_bound_s: float | None = None   # (8), (9): None, not judged (no load balancer in the run)
    success_rate: float = 0.95                     # (9): a second the clients were served
    removal_cap_share: float = 0.25                # (8): the targets removable per removal window
    removal_window_s: float = 10.0
    in_service_floor_share: float = 0.5            # (8): the fewest in service, as a share of the targets
    answering_grace_s: float = 3.0                 # (8): networked this long before its removal: it was answering
    origin: float = 0.0     # the history's first moment: evidence counts time from it ("+12.3 s")

    @classmethod
    def from_run(cls, run: dict[str, Any], origin: float = 0.0) -> Bounds:
        """From the run line's `bounds` (reproduce-outage), else its schedule's parameters (chaos)."""
        given = run.get("bounds") or (run.get("schedule") or {}).get("parameters") or {}
        numbers = {name: float(given[name]) for name in ("converge_bound_s", "negative_ttl_s", "repair_bound_s",
                                                         "answer_slack_s", "lease_recovery_bound_s",
                                                         "leased_fraction", "client_recovery_bound_s", "success_rate",
                                                         "removal_cap_share", "removal_window_s",
                                                         "in_service_floor_share", "answering_grace_s")
                   if given.get(name) is not None}
        views = tuple(str(view) for view in given.get("views") or ("resolver",))
        unknown = set(views) - {"resolver", "authoritative"}
        if unknown:
            raise ValueError(f"the run's bounds name views no probe records: {sorted(unknown)}")
        return cls(**numbers, views=views, origin=origin)

    def to_json(self) -> dict[str, Any]:
        return {"converge_bound_s": self.converge_bound_s, "negative_ttl_s": self.negative_ttl_s,
                "repair_bound_s": self.repair_bound_s, "answer_slack_s": self.answer_slack_s,
                "views": list(self.views),
                **({"lease_recovery_bound_s": self.lease_recovery_bound_s, "leased_fraction": self.leased_fraction}
                   if self.lease_recovery_bound_s is not None else {}),
                **({"client_recovery_bound_s": self.client_recovery_bound_s, "success_rate": self.success_rate,
                    "removal_cap_share": self.removal_cap_share, "removal_window_s": self.removal_window_s,
                    "in_service_floor_share": self.in_service_floor_share, "answering_grace_s": self.answering_grace_s}
                   if self.client_recovery_bound_s is not None else {})}

    def at(self, t: float) -> str:
        return f"+{t - self.origin:.1f} s"


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


def completions(probes: Iterable[dict[str, Any]], process: str) -> list[dict[str, Any]]:
    return sorted((op for op in probes if op.get("process") == process and op.get("type") in ("ok", "fail", "info")),
                  key=lambda op: float(op["t"]))


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


def replay_audit(audit: Sequence[dict[str, Any]]) -> list[Step]:
    """(batch, zone before, zone after) for every accepted batch, in the order dns-admin applied them; the
    audit is read from its first row (audit_complete), so a name never written is absent."""
    return zone_history.replay(zone_history.batches_from_audit(audit), complete=True)
