"""The checker: pure functions over a recorded history. No I/O; each is unit-tested on hand-written histories.
The one judge of every history the lab records (verdict.py holds what the invariants share).

    empty_windows(history, process)        when the endpoint answered empty, as runs of `fail` probes
    endpoint_moves(audit, endpoint)        every accepted batch that changed what the endpoint aliases,
                                           replayed from dns-admin's audit (not from the enactors' events)
    backward_moves(moves)                  the moves to an older generation than the one before
    count_rate(history, process)           probes per second actually made (the client's promise)

The zone's history is dnsrace.zone_history's one replay of dns-admin's audit, with each record set's
value: the moves, (3)'s "deleted while referenced", (4)'s zone at a moment and (5)'s final zone all come
from it (the responder's console asks the same functions of dns-admin's events).

The invariants, one module each, each a Verdict (valid True | False | "unknown", with the evidence) over a
whole history (history.py; a chaos run's or a reproduce-outage run's, its bounds in the run line:
verdict.Bounds): check_history(history, endpoint) runs them all.
    (1) no-empty-answer       empty_answer.py: no empty answer at the resolver (and at each view the
                              bounds name) once the first plan was live; the one
                              exception is the nemesis's own deletion of the live plan, which empties the
                              answer by definition: from it until the authoritative view answers again
                              (at most repair_bound_s), plus the negative TTL and slack, and no longer
    (2) never-back            never_back.py: the endpoint's generation never goes back, replayed from dns-admin's audit
    (3) no-referenced-delete  referenced_delete.py: no plan deleted (by anyone but the nemesis) while the endpoint or the rollback
                              record pointed at it, replayed from the audit
    (4) converges             converges.py: after the last fault stops, the endpoint is on the newest plan within
                              converge_bound_s, and the resolver answers within the negative TTL (+ slack)
                              of the authoritative view answering
    (5) no-lost-batch         lost_batch.py: every acknowledged change id is in the final audit as its client's, change
                              numbers have no gap, and dns-admin's final zone is its audit's replay (each
                              alias's target, each A set's addresses and weights)
    (6) no-crash-loop         crash_loop.py: each enactor restarted at most as often as the nemesis killed it
    (7) leases-recover        leases_recover.py: (the cascade's runs only: bounds.lease_recovery_bound_s) after
                              DNS answers again, the lease manager's leased fraction (its per-second
                              figures) reaches 95 % within the bound
    (8) capacity-held         network.py: (act 2's runs only: bounds.client_recovery_bound_s) the load
                              balancer takes out no answering target, at most a quarter per 10 s, and
                              never leaves fewer than half in service
    (9) clients-recover       network.py: (act 2's runs only) from at most the bound after DNS answers again
                              (and a propagation storm stopped: the chaos campaign's) to the end, every
                              second's client success rate through HAProxy is >= 95 %
An audit that does not start at row 1 (cut short), or a history that ends before a bound ran out, gives
"unknown", never a guess. `info` probes (timeouts) never count as empty answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dnsrace.zone_history import backward_moves

from dnsrace_lab.harness.checker.converges import check_converges
from dnsrace_lab.harness.checker.crash_loop import check_no_crash_loop
from dnsrace_lab.harness.checker.empty_answer import check_no_empty_answer, deletion_excuses, repairs
from dnsrace_lab.harness.checker.leases_recover import check_leases_recover
from dnsrace_lab.harness.checker.lost_batch import check_no_lost_batch
from dnsrace_lab.harness.checker.network import check_capacity_held, check_clients_recover
from dnsrace_lab.harness.checker.never_back import check_never_back
from dnsrace_lab.harness.checker.referenced_delete import check_no_referenced_delete
from dnsrace_lab.harness.checker.verdict import (CASCADE_INVARIANTS, INVARIANTS, MODEL, NEMESIS_CLIENT, NETWORK_INVARIANTS,
                                                PROPAGATION_STORM, STORAGE_CUT, TITLES,
                                                UNKNOWN, Bounds,
                                                EmptyWindow, FaultWindow, Mark, Move, Valid, Verdict,
                                                audit_complete, count_rate, empty_windows,
                                                endpoint_moves, fault_windows)

__all__ = ["CASCADE_INVARIANTS", "INVARIANTS", "MODEL", "NEMESIS_CLIENT", "NETWORK_INVARIANTS", "TITLES", "UNKNOWN", "Bounds", "EmptyWindow", "FaultWindow", "Mark",
           "Move", "Valid", "Verdict", "audit_complete", "backward_moves", "check_converges", "check_history",
           "check_capacity_held", "check_clients_recover", "check_leases_recover", "check_never_back", "check_no_crash_loop", "check_no_empty_answer", "check_no_lost_batch",
           "check_no_referenced_delete", "count_rate", "deletion_excuses", "dns_windows", "empty_windows", "endpoint_moves",
           "fault_windows", "overall", "repairs"]


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
    # (1)-(6) judge the DNS automation: the storage node's cut (CASCADE=1) is the lease manager's fault,
    # and it outlasts the others by a minute or more; counted as their last fault, it would give (4)
    # that minute. Only (7) sees it, and only (9) the propagation storm (Network Manager's).
    dns = dns_windows(windows)
    verdicts = {
        "no-empty-answer": check_no_empty_answer(probes, dns, bounds),
        "never-back": check_never_back(audit, endpoint),
        "no-referenced-delete": check_no_referenced_delete(audit, endpoint, dns),
        "converges": check_converges(probes, dns, events, audit, endpoint, bounds, end),
        "no-lost-batch": check_no_lost_batch(events, nemesis, audit, observations, dns),
        "no-crash-loop": check_no_crash_loop(events, dns, observations),
    }
    figures = [r for r in history if r.get("source") == "figures"]
    if bounds.lease_recovery_bound_s is not None:
        verdicts["leases-recover"] = check_leases_recover(probes, windows, figures, bounds, end)
    if bounds.client_recovery_bound_s is not None:
        verdicts["capacity-held"] = check_capacity_held(events, figures, bounds)
        verdicts["clients-recover"] = check_clients_recover(probes, windows, figures, bounds)
    return verdicts


def dns_windows(windows: Sequence[FaultWindow]) -> list[FaultWindow]:
    """The faults (1)-(6) judge: all but the cascade's (the storage cut, the propagation storm)."""
    return [w for w in windows if w.fault not in (STORAGE_CUT, PROPAGATION_STORM)]


def overall(verdicts: Mapping[str, Verdict]) -> Valid:
    """False if any verdict is; else unknown if an invariant's is. The model's verdict counts when it is
    decided (invalid: the code and its model drifted apart); an unknown one says the run left the model's
    scope (an event trace.UNMODELLED lists), which is a statement about the model, not about the run."""
    values = [v.valid for name, v in verdicts.items() if not (name == MODEL and v.valid == UNKNOWN)]
    if False in values:
        return False
    return UNKNOWN if UNKNOWN in values else True
