"""Legacy mode: the enactor as it was in October 2025, faithful down to the bug.

Its reliability mechanisms, each reasonable alone:
  - the staleness check runs once, in the shared loop's step 2, long before the write;
  - cleanup trusts generation numbers alone (dnsrace.rules.plans_older_than_window);
  - the rollback record always aliases the plan the endpoint points at when the batch is built;
  - any error in the apply path is not handled here: it escapes the loop and the process exits,
    and the restart policy brings it back — into the same error.
"""

from __future__ import annotations

from dnsrace.lock import Lease
from dnsrace.plans import Plan, plan_record_name, rollback_record_name
from dnsrace.records import Change, RecordSet
from dnsrace.rules import plans_older_than_window

from .apply_loop import Enactor


class Legacy:
    name = "legacy"

    async def point_endpoint(self, enactor: Enactor, endpoint: str, plan: Plan, lease: Lease) -> None:
        target = plan_record_name(plan.id, endpoint)
        changes = [Change("UPSERT", RecordSet.alias(endpoint, target))]
        current = await enactor.admin.get_record_set(endpoint, "ALIAS")
        previous_target = current.target if current is not None else None
        if previous_target is not None:
            # ── THE BUG ──────────────────────────────────────────────────────────────────────────
            # The rollback record always aliases the plan the endpoint points at; nothing asks
            # whether that plan still exists. If cleanup deleted it, dns-admin (like Route 53)
            # rejects an alias to a missing target, the whole batch fails, and nothing below handles
            # that: the exception leaves the apply loop and the enactor dies. Every enactor reads the
            # same missing plan, so every enactor dies the same way, on every restart. A missing
            # previous plan should have meant an empty rollback record, as on the very first plan.
            changes.append(Change("UPSERT", RecordSet.alias(rollback_record_name(endpoint), previous_target)))
        batch = enactor.batch(f"{plan.id}: point {endpoint}", *changes)
        result = await enactor.admin.submit(batch)  # an AliasTargetMissing here is the crash
        previous_plan = previous_target.split(".", 1)[0] if previous_target else None
        await enactor.events.emit("endpoint_pointed", plan=plan.id, token=lease.token, endpoint=endpoint,
                                  rollback=previous_plan, change_id=result.change_id)

    def select_cleanup(self, generations: list[int], applied: Plan, keep_generations: int) -> list[int]:
        return plans_older_than_window(generations, applied.generation, keep_generations)
