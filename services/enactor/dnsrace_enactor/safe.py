"""An enactor mode: the decisions where legacy and safe differ, as pure functions over Facts.

`diff -u legacy.py safe.py` is the bug and the fix, one hunk per mechanism. No I/O here: the shared
loop (apply_loop.py) gathers the facts, asks these functions, and does every write and every event.
"""

from __future__ import annotations

from dnsrace.plans import Plan, rollback_record_name
from dnsrace.records import Change, RecordSet
from dnsrace.records import InvalidInput
from dnsrace.rules import is_newer, plans_older_than_window

from .facts import Cleanup, Facts, Verdict
from .facts import TRANSIENT_ERRORS, InvariantRefused, StateUnreasonable, deleting, unchanged

NAME = "safe"
CHECKS_ITS_OWN_WORK = True  # after each apply and when idle, it resolves the endpoint through CoreDNS


def should_apply(plan: Plan, facts: Facts) -> bool:
    return is_newer(plan.generation, facts.live_generation) or facts.lost_live_plan(plan.id)


def cannot_reason_about(facts: Facts) -> str | None:
    return facts.oddity  # e.g. the endpoint aliases a name that is no plan: freeze, do not guess


def point_batch(plan: Plan, checked: Facts, current: Facts) -> tuple[Change, ...]:
    """Step 5. `checked` was read at step 2 (the check); `current` after the lock and step 4."""
    endpoint = checked.endpoint
    if checked.live_target == checked.plan_target(plan.id):
        return ()  # already live: its record set was lost, and step 4 has just restored it
    if not is_newer(plan.generation, checked.live_generation):
        raise InvariantRefused(f"{plan.id} would move {endpoint} back from {checked.live_plan}")
    # Compare-and-swap: DELETE exactly the alias that was checked, then CREATE; all or nothing.
    changes = [*deleting(checked.endpoint_alias), Change("CREATE", RecordSet.alias(endpoint, checked.plan_target(plan.id))),
               *deleting(checked.rollback_alias)]
    previous = checked.live_target
    if previous is not None and checked.exists(previous):
        # The rollback aliases the previous plan only if it still exists; if not, it stays empty.
        changes.append(Change("CREATE", RecordSet.alias(rollback_record_name(endpoint), previous)))
    return tuple(changes)


def on_error(error: Exception) -> Verdict:
    # One failed attempt, never a dead process: retry on fresh facts, or freeze what it cannot reason about.
    retry = isinstance(error, TRANSIENT_ERRORS)
    return "freeze" if not retry or isinstance(error, (StateUnreasonable, InvariantRefused, InvalidInput)) else "retry"


def cleanup(facts: Facts, applied: Plan, keep_generations: int) -> Cleanup:
    """Step 7: the plans more than K generations older than the one just applied."""
    victims = plans_older_than_window(facts.plan_sets, applied.generation, keep_generations)
    return Cleanup.sparing(victims, facts.references)  # never what the endpoint or rollback points at


def cleanup_batch(facts: Facts, victim: RecordSet) -> tuple[Change, ...]:
    return (*unchanged(facts, victim), Change("DELETE", victim))  # fails if a reference moved onto it


def repair_needed(facts: Facts) -> str | None:
    return facts.endpoint_problem  # DNS answered empty: is the zone why? then re-point the endpoint
