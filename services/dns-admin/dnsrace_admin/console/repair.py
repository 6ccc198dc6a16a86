"""The repair, as the responders made it: point the endpoint at the newest plan that exists, and clear the
rollback record (which names a plan the enactors cannot build a rollback from). Pure: the batch from the
zone as dns-admin holds it.

The batch is a compare-and-swap on what was read: it DELETEs the endpoint's alias and the rollback
record exactly as they are, then CREATEs the new alias, all or nothing. If an enactor moves either in
between, dns-admin refuses the whole batch (RecordSetMismatch, 409) and nothing changes: the operator
reads the page again and decides again, never on stale facts. An operator who confirmed a plan by name
(`expect_target`) never gets an older one: a 409 if the newest existing plan is older than the one
confirmed by the time the request lands (it was deleted meanwhile). A newer one is taken, and said: in an
outage the planner publishes every 2 s and each crash-looping enactor writes the new plan's record set
before it dies, so the newest existing plan moves on while a human reads the confirmation.

    NothingToRepair (409)   the endpoint already aliases the newest existing plan and there is no rollback
    NoPlanToRepairWith (409)  no plan record set exists for the endpoint
    PlanMoved (409)         the newest existing plan is older than the one the operator confirmed
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dnsrace.plans import (MalformedPlan, generation_of_plan_id, generation_of_record_name, plan_id, plan_of_record_name,
                           rollback_record_name)
from dnsrace.errors import NoPlanToRepairWith, NothingToRepair, PlanMoved
from dnsrace.records import Change, ChangeBatch, InvalidInput, RecordSet, quoted

__all__ = ["NoPlanToRepairWith", "NothingToRepair", "PlanMoved", "Repair", "parse_request", "repair_batch"]

CLIENT = "operator"


@dataclass(frozen=True)
class Repair:
    target: str                 # the plan record set the endpoint will alias
    before: str | None          # what it aliased
    rollback_cleared: str | None
    batch: ChangeBatch
    confirmed: str | None = None   # the plan the operator confirmed (the target may be newer)

    @property
    def plan(self) -> str:
        return plan_of_record_name(self.target)


def parse_request(body: object) -> str | None:
    """The request's body: {} or {"expect_target": "plan-000160"}; InvalidInput (400) for anything else."""
    if not isinstance(body, Mapping):
        raise InvalidInput(f"body: expected a JSON object like {{}} or {{\"expect_target\": \"plan-000160\"}}, "
                           f"got {quoted(body)}")
    unknown = sorted(set(body) - {"expect_target"})
    if unknown:
        raise InvalidInput(f"body: unknown key {quoted(unknown[0])} (only expect_target is known)")
    expected = body.get("expect_target")
    if expected is None:
        return None
    try:
        generation_of_plan_id(expected)
    except (MalformedPlan, TypeError):
        raise InvalidInput(f"expect_target: expected a plan id like plan-000160, got {quoted(expected)}") from None
    return str(expected)


def repair_batch(record_sets: Iterable[RecordSet], endpoint: str, *, expect_target: str | None = None) -> Repair:
    """The repair batch for the zone as it is; a RepairRefused when there is nothing (sensible) to do."""
    by_key = {(rs.name, rs.type): rs for rs in record_sets}
    plans = {generation: name for (name, record_type) in by_key
             if record_type == "A" and (generation := generation_of_record_name(name, endpoint)) is not None}
    if not plans:
        raise NoPlanToRepairWith(f"no plan record set exists for {endpoint}: there is nothing to point it at")
    newest = max(plans)
    target = plans[newest]
    if expect_target is not None and newest < generation_of_plan_id(expect_target):
        raise PlanMoved(f"the newest existing plan is now {plan_id(newest)}, older than {expect_target} as "
                        "confirmed (it was deleted meanwhile); nothing was changed: read the page again")
    current = by_key.get((endpoint, "ALIAS"))
    rollback = by_key.get((rollback_record_name(endpoint), "ALIAS"))
    if current is not None and current.target == target and rollback is None:
        raise NothingToRepair(f"{endpoint} already aliases {plan_id(newest)}, the newest existing plan, and there "
                              "is no rollback record: nothing to repair")
    changes = [Change("DELETE", current)] if current is not None else []
    changes.append(Change("CREATE", RecordSet.alias(endpoint, target)))
    if rollback is not None:
        changes.append(Change("DELETE", rollback))
    batch = ChangeBatch(changes=tuple(changes), client=CLIENT,
                        comment=f"operator: repair from the console, endpoint -> {plan_id(newest)}, rollback cleared")
    return Repair(target, current.target if current is not None else None,
                  rollback.target if rollback is not None else None, batch, expect_target)


def describe(repair: Repair, change_id: str, serial: int, audit: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"change_id": change_id, "serial": serial, "target": repair.plan, "before": _plan(repair.before),
            "rollback_cleared": _plan(repair.rollback_cleared), "audit": dict(audit) if audit else None,
            "message": f"{change_id}: endpoint -> {repair.plan}"
                       + (f" (was {_plan(repair.before)})" if repair.before else "")
                       + (f", rollback record cleared (was {_plan(repair.rollback_cleared)})" if repair.rollback_cleared
                          else ", no rollback record to clear")
                       + (f"; {repair.plan} is newer than {repair.confirmed}, which was confirmed: it was published "
                          "meanwhile" if repair.confirmed and repair.confirmed != repair.plan else "")}


def _plan(name: str | None) -> str | None:
    return plan_of_record_name(name) if name else None
