"""Invariant (2) never-back: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dnsrace.zone_history import backward_moves

from dnsrace_lab.harness.checker.verdict import UNKNOWN, audit_complete, endpoint_moves, Mark, Verdict


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
