"""Invariant (5) no-lost-batch: see dnsrace_lab.harness.checker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

from dnsrace import zone_history

from dnsrace_lab.harness.checker.verdict import (ACKNOWLEDGING_EVENTS, NEMESIS_CLIENT, UNKNOWN, audit_complete,
                                                 FaultWindow, Mark, replay_audit, Verdict)


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
        steps = replay_audit(included)
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
