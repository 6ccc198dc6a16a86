"""Facts: what the apply loop read about one endpoint, and nothing else. Pure: no I/O.

The loop gathers facts (one listing of the zone from dns-admin) and hands them to a mode, whose
decisions are pure functions of facts; so every decision can be tested on hand-built facts, and a
reader can see exactly what each mode knew when it decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from redis.exceptions import RedisError

from dnsrace.deadline import StrayCancellation
from dnsrace.dns_admin_client import DnsAdminUnavailable
from dnsrace.plans import generation_of_record_name, plan_of_record_name, plan_record_name, rollback_record_name
from dnsrace.records import Change, DnsAdminError, RecordSet

__all__ = ["Cleanup", "Facts", "TRANSIENT_ERRORS", "Verdict", "StateUnreasonable", "InvariantRefused", "deleting", "unchanged",
           "rollback_target_after"]

# What a mode does with an error from one pass of the loop (legacy never returns: it re-raises).
Verdict = Literal["retry", "freeze"]

# Errors that end one attempt and say nothing about the protocol's state: dns-admin refused a batch
# (the zone moved: read it again) or a peer did not answer (Redis, dns-admin, the network), or a
# library's CancelledError reached the loop with no shutdown under way (dnsrace.deadline).
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    DnsAdminError, DnsAdminUnavailable, RedisError, ConnectionError, OSError, TimeoutError, StrayCancellation)


class StateUnreasonable(Exception):
    """The zone is in a state the mode cannot reason about (e.g. the endpoint aliases a non-plan)."""


class InvariantRefused(Exception):
    """A decision would break an invariant (endpoint going backwards, deleting a referenced plan)."""


@dataclass(frozen=True)
class Facts:
    endpoint: str
    endpoint_alias: RecordSet | None
    rollback_alias: RecordSet | None
    plan_sets: Mapping[int, RecordSet] = field(default_factory=dict)  # generation -> A record set

    @classmethod
    def from_record_sets(cls, record_sets: Iterable[RecordSet], endpoint: str) -> Facts:
        rollback = rollback_record_name(endpoint)
        endpoint_alias = rollback_alias = None
        plan_sets: dict[int, RecordSet] = {}
        for record_set in record_sets:
            if record_set.type == "ALIAS" and record_set.name == endpoint:
                endpoint_alias = record_set
            elif record_set.type == "ALIAS" and record_set.name == rollback:
                rollback_alias = record_set
            elif record_set.type == "A" and (generation := generation_of_record_name(record_set.name, endpoint)):
                plan_sets[generation] = record_set
        return cls(endpoint, endpoint_alias, rollback_alias, plan_sets)

    @property
    def live_target(self) -> str | None:
        """The name the endpoint aliases, or None when it has no alias."""
        return self.endpoint_alias.target if self.endpoint_alias is not None else None

    @property
    def live_generation(self) -> int | None:
        """The generation of the plan the endpoint aliases (None: no alias, or not a plan's name)."""
        return self.generation_of(self.live_target)

    def generation_of(self, target: str | None) -> int | None:
        """plan-000145.<endpoint> -> 145; None for None or any name that is not a plan of this endpoint."""
        return generation_of_record_name(target, self.endpoint) if target is not None else None

    @property
    def live_plan(self) -> str | None:
        target = self.live_target
        return plan_of_record_name(target) if target is not None else None

    @property
    def rollback_target(self) -> str | None:
        return self.rollback_alias.target if self.rollback_alias is not None else None

    def exists(self, target: str | None) -> bool:
        """Does a plan record set of this endpoint exist under the name `target`?"""
        generation = self.generation_of(target)
        return generation is not None and generation in self.plan_sets

    def plan_target(self, plan_id: str) -> str:
        return plan_record_name(plan_id, self.endpoint)

    # --- observations: what is true of these facts; whether to act on it is a mode's decision ---------

    @property
    def endpoint_problem(self) -> str | None:
        """Why the endpoint would answer empty (None: it aliases a plan record set that exists)."""
        if self.endpoint_alias is None:
            return f"{self.endpoint} has no alias"
        return None if self.exists(self.live_target) else f"{self.live_target} does not exist"

    @property
    def oddity(self) -> str | None:
        """A state the protocol has no rule for: the endpoint aliases a name that is not one of its plans."""
        if self.endpoint_alias is not None and self.live_generation is None:
            return f"{self.endpoint} aliases {self.live_target}, which is not one of its plans"
        return None

    def lost_live_plan(self, plan_id: str) -> bool:
        """Is `plan_id` the live plan, with its record set gone (deleted by hand, or by a cleanup)?"""
        return self.live_plan == plan_id and not self.exists(self.live_target)

    @property
    def references(self) -> dict[int, str]:
        """The plans the endpoint or the rollback record point at: cleanup must never delete these."""
        found = {}
        if (rollback := self.generation_of(self.rollback_target)) is not None:
            found[rollback] = "the rollback record points at it"
        if (live := self.live_generation) is not None:
            found[live] = "the endpoint points at it"
        return found


@dataclass(frozen=True)
class Cleanup:
    """Which plan generations to delete, and which ones were old enough but spared (and why)."""

    victims: tuple[int, ...]
    spared: Mapping[int, str] = field(default_factory=dict)

    @classmethod
    def sparing(cls, candidates: Iterable[int], references: Mapping[int, str]) -> Cleanup:
        chosen = sorted(candidates)
        return cls(tuple(g for g in chosen if g not in references),
                   {g: references[g] for g in chosen if g in references})


def deleting(alias: RecordSet | None) -> tuple[Change, ...]:
    """DELETE exactly `alias` (nothing if absent): in a batch, it fails the batch if the value moved."""
    return () if alias is None else (Change("DELETE", alias),)


def unchanged(facts: Facts, witness: RecordSet) -> tuple[Change, ...]:
    """Changes that leave the endpoint and rollback aliases as `facts` saw them, and fail the batch if
    either is not so any more: Route 53's exact-match DELETE, used as an assertion. An absent alias
    is asserted by creating it (aliasing `witness`, which exists) and deleting it again."""
    changes: list[Change] = []
    for name, alias in ((facts.endpoint, facts.endpoint_alias),
                        (rollback_record_name(facts.endpoint), facts.rollback_alias)):
        probe = alias if alias is not None else RecordSet.alias(name, witness.name)
        pair = [Change("DELETE", probe), Change("CREATE", probe)]
        changes += pair if alias is not None else pair[::-1]
    return tuple(changes)


def rollback_target_after(changes: Iterable[Change], endpoint: str) -> str | None:
    """Where the rollback record points once `changes` are applied (None: it was not set by them)."""
    name = rollback_record_name(endpoint)
    target = None
    for change in changes:
        if change.record_set.name == name and change.record_set.type == "ALIAS":
            target = change.record_set.target if change.action != "DELETE" else None
    return target
