"""Plans: what the planner publishes and the enactors apply.

A plan is generation N of the set of healthy backends and their weights. Its id is readable,
`plan-000145`, because responders in the real incident had to compare UUIDs at 3 a.m. One plan covers
every endpoint in `endpoints` (AWS's regional plan is shared by several endpoints); in the zone each
endpoint gets its own record set for it, `plan-000145.<endpoint>`.

Every endpoint of a plan is checked by dns-admin's own name rules (records.normalize_name), in its
canonical spelling (lowercase, no trailing dot) and inside the zone, together with the names the
enactors will write for it (`rollback.<endpoint>`, `plan-<any generation>.<endpoint>`): a plan that
passes here never makes dns-admin refuse a name, and `DynamoDB.…` and `dynamodb.…` are one endpoint.

Errors:
    MalformedPlan(ValueError)   a plan (or plan id) read from Redis or given by a user is not valid
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .records import DnsAdminError, normalize_name, quoted, validate_ipv4

__all__ = [
    "MalformedPlan", "Plan", "Target", "plan_id", "generation_of_plan_id", "normalize_endpoint",
    "plan_record_name", "rollback_record_name", "generation_of_record_name", "plan_of_record_name",
    "plan_id_in_record_name",
]

PLAN_ID_PATTERN = re.compile(r"plan-([0-9]{6,9})", re.ASCII)
GENERATION_MAX = 999_999_999
TARGETS_MAX = 100
ENDPOINTS_MAX = 10
TEXT_LENGTH_MAX = 64  # a backend's name, a plan's reason
WEIGHT_MAX = 255


class MalformedPlan(ValueError):
    """A plan that cannot be applied; the message names the field."""


def plan_id(generation: int) -> str:
    if not 1 <= generation <= GENERATION_MAX:
        raise MalformedPlan(f"generation {generation} is outside 1..{GENERATION_MAX}")
    return f"plan-{generation:06d}"


def generation_of_plan_id(text: str) -> int:
    match = PLAN_ID_PATTERN.fullmatch(text)
    # Only the spelling plan_id() writes: one generation, one name (cleanup keys on it).
    if match is None or int(match.group(1)) < 1 or plan_id(int(match.group(1))) != text:
        raise MalformedPlan(f"{text!r} is not a plan id like plan-000145")
    return int(match.group(1))


def plan_record_name(plan: str, endpoint: str) -> str:
    """The record set holding one plan's A records for one endpoint."""
    return f"{plan}.{endpoint}"


def plan_of_record_name(name: str) -> str:
    """plan_record_name's inverse, for showing: plan-000145.dynamodb.us-east-1.lab.test -> plan-000145.
    A name that is no plan's record set comes back as its first label, which is what a message shows."""
    return name.split(".", 1)[0]


def plan_id_in_record_name(name: str) -> str | None:
    """The plan id a record name starts with (plan-000145.…), or None if its first label is no plan id."""
    label = plan_of_record_name(name)
    return label if PLAN_ID_PATTERN.fullmatch(label) else None


def rollback_record_name(endpoint: str) -> str:
    """The alias to the previous plan, so an operator can roll back in one step."""
    return f"rollback.{endpoint}"


def normalize_endpoint(endpoint: object, *, zone: str) -> str:
    """The canonical spelling of an endpoint, if it and every name written for it are valid in `zone`."""
    try:
        canonical = normalize_name(endpoint, zone=zone)  # type: ignore[arg-type]  # it checks the type too
    except DnsAdminError as error:
        raise MalformedPlan(f"endpoint {quoted(endpoint)}: {error.message}") from None
    # The longest names the enactors write for it must be valid too, or every write would be refused.
    for derived in (plan_record_name(plan_id(GENERATION_MAX), canonical), rollback_record_name(canonical)):
        try:
            normalize_name(derived, zone=zone)
        except DnsAdminError as error:
            raise MalformedPlan(f"endpoint {quoted(endpoint)}: its record name {quoted(derived)} would not be "
                                f"valid: {error.message}") from None
    return canonical


def generation_of_record_name(name: str, endpoint: str) -> int | None:
    """plan-000145.<endpoint> -> 145; any other name -> None."""
    label, _, rest = name.partition(".")
    if rest != endpoint:
        return None
    try:
        return generation_of_plan_id(label)
    except MalformedPlan:
        return None


@dataclass(frozen=True)
class Target:
    """One load balancer behind the endpoint, as the planner saw it."""

    backend: str
    address: str
    weight: int


@dataclass(frozen=True)
class Plan:
    generation: int
    endpoints: tuple[str, ...]
    targets: tuple[Target, ...]
    created_at: float
    reason: str = "tick"

    @property
    def id(self) -> str:
        return plan_id(self.generation)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "generation": self.generation,
            "endpoints": list(self.endpoints),
            "targets": [{"backend": t.backend, "address": t.address, "weight": t.weight} for t in self.targets],
            "created_at": self.created_at,
            "reason": self.reason,
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True)

    @classmethod
    def loads(cls, text: str | bytes, *, zone: str) -> Plan:
        try:
            obj = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedPlan(f"plan is not JSON: {error}") from None
        return cls.from_json(obj, zone=zone)

    @classmethod
    def from_json(cls, obj: object, *, zone: str) -> Plan:
        if not isinstance(obj, dict):
            raise MalformedPlan("plan must be a JSON object")
        generation = obj.get("generation")
        if not isinstance(generation, int) or isinstance(generation, bool):
            raise MalformedPlan("plan.generation must be an integer")
        identifier = plan_id(generation)
        if obj.get("id", identifier) != identifier:
            raise MalformedPlan(f"plan.id {obj.get('id')!r} does not match generation {generation}")
        endpoints_raw = obj.get("endpoints")
        if (not isinstance(endpoints_raw, list) or not 1 <= len(endpoints_raw) <= ENDPOINTS_MAX
                or not all(isinstance(e, str) and e for e in endpoints_raw)):
            raise MalformedPlan(f"{identifier}: endpoints must be a list of 1..{ENDPOINTS_MAX} names")
        try:
            endpoints = [normalize_endpoint(endpoint, zone=zone) for endpoint in endpoints_raw]
        except MalformedPlan as error:
            raise MalformedPlan(f"{identifier}: {error}") from None
        if len(set(endpoints)) != len(endpoints):
            raise MalformedPlan(f"{identifier}: endpoints repeat a name ({', '.join(sorted(endpoints))})")
        targets_raw = obj.get("targets")
        if not isinstance(targets_raw, list) or not 1 <= len(targets_raw) <= TARGETS_MAX:
            raise MalformedPlan(f"{identifier}: targets must be a list of 1..{TARGETS_MAX} targets")
        targets = tuple(_target_from_json(identifier, index, t) for index, t in enumerate(targets_raw))
        addresses = [t.address for t in targets]
        if len(set(addresses)) != len(addresses):
            raise MalformedPlan(f"{identifier}: targets repeat an address ({', '.join(sorted(addresses))})")
        created_at = obj.get("created_at")
        if (not isinstance(created_at, (int, float)) or isinstance(created_at, bool)
                or not math.isfinite(created_at) or created_at <= 0):
            raise MalformedPlan(f"{identifier}: created_at must be a positive number of seconds")
        reason = obj.get("reason", "tick")
        if not _is_short_text(reason):
            raise MalformedPlan(f"{identifier}: reason must be a string of at most {TEXT_LENGTH_MAX} printable characters")
        return cls(generation, tuple(endpoints), targets, float(created_at), reason)


def _is_short_text(value: object) -> bool:
    # Printable: these strings reach events and the timeline, where a newline would forge a line.
    return isinstance(value, str) and len(value) <= TEXT_LENGTH_MAX and value.isprintable()


def _target_from_json(identifier: str, index: int, obj: object) -> Target:
    where = f"{identifier}: targets[{index}]"
    if not isinstance(obj, dict):
        raise MalformedPlan(f"{where} must be an object")
    backend, address, weight = obj.get("backend"), obj.get("address"), obj.get("weight")
    if not _is_short_text(backend) or not backend:
        raise MalformedPlan(f"{where}.backend must be a name of at most {TEXT_LENGTH_MAX} printable characters")
    # The same address rules dns-admin applies, so a plan that passes here is one it will accept.
    try:
        validate_ipv4(address if isinstance(address, str) else repr(address))
    except DnsAdminError as error:
        raise MalformedPlan(f"{where}.address {quoted(address)} is not an IPv4 address a record can hold: "
                            f"{error.message}") from None
    if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= WEIGHT_MAX:
        raise MalformedPlan(f"{where}.weight must be an integer 0..{WEIGHT_MAX}")
    return Target(backend, str(address), weight)
