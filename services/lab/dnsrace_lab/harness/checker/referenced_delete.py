"""Invariant (3) no-referenced-delete: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dnsrace import zone_history
from dnsrace.plans import generation_of_record_name, plan_of_record_name
from dnsrace.zone_history import record_name

from dnsrace_lab.harness.checker.verdict import (NEMESIS_CLIENT, UNKNOWN, audit_complete, FaultWindow, Mark,
                                                 replay_audit, Verdict)


# (3) ----------------------------------------------------------------------------------------------------

def check_no_referenced_delete(audit: Sequence[dict[str, Any]], endpoint: str,
                               windows: Sequence[FaultWindow] = ()) -> Verdict:
    """A deletion that is itself a fault (the nemesis's, or a scenario's operator mistake: a
    delete-live-plan window names its change id) is the fault, not a violation."""
    if (why := audit_complete(audit)) is not None:
        return Verdict("no-referenced-delete", UNKNOWN, (why,))
    steps = replay_audit(audit)
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
