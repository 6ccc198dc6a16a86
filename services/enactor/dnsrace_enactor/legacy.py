"""An enactor mode: the decisions where legacy and safe differ, as pure functions over Facts.

`diff -u legacy.py safe.py` is the bug and the fix, one hunk per mechanism. No I/O here: the shared
loop (apply_loop.py) gathers the facts, asks these functions, and does every write and every event.
"""

from __future__ import annotations

from dnsrace.plans import Plan, rollback_record_name
from dnsrace.records import Change, RecordSet
from dnsrace.rules import is_newer, plans_older_than_window

from .facts import Cleanup, Facts, Verdict

NAME = "legacy"
CHECKS_ITS_OWN_WORK = False  # it never asks DNS what the endpoint answers


def should_apply(plan: Plan, facts: Facts) -> bool:
    return is_newer(plan.generation, facts.live_generation)


def cannot_reason_about(facts: Facts) -> str | None:
    return None  # it has no notion of a state it cannot reason about


def point_batch(plan: Plan, checked: Facts, current: Facts) -> tuple[Change, ...]:
    """Step 5. `checked` was read at step 2 (the check); `current` after the lock and step 4."""
    endpoint = checked.endpoint
    changes = [Change("UPSERT", RecordSet.alias(endpoint, current.plan_target(plan.id)))]
    previous = current.live_target
    if previous is not None:
        # ── THE BUG (1/2): the rollback always aliases the previous plan, never asking if it still
        # exists; if cleanup deleted it, the alias is refused (as by Route 53) and the batch fails.
        changes.append(Change("UPSERT", RecordSet.alias(rollback_record_name(endpoint), previous)))
    return tuple(changes)


def on_error(error: Exception) -> Verdict:
    # ── THE BUG (2/2): nothing handles it. The process exits, restarts into the same zone, and
    # dies the same way, as does every enactor: nothing moves the endpoint again until a human does.
    raise error


def cleanup(facts: Facts, applied: Plan, keep_generations: int) -> Cleanup:
    """Step 7: the plans more than K generations older than the one just applied."""
    victims = plans_older_than_window(facts.plan_sets, applied.generation, keep_generations)
    return Cleanup(tuple(victims))  # generation numbers alone: what the endpoint points at is not asked


def cleanup_batch(facts: Facts, victim: RecordSet) -> tuple[Change, ...]:
    return (Change("DELETE", victim),)


def repair_needed(facts: Facts) -> str | None:
    return None  # an empty answer is never noticed, so never repaired
