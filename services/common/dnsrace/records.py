"""Record sets, change batches and the errors of the dns-admin API.

One model for both sides of the wire: dns-admin validates what it stores with this code and the
client builds what it sends with it, so "valid" means the same thing everywhere. Everything here is
pure (no I/O) so the protocol rules can be tested without a server.

Validation is strict on purpose: dns-admin renders these values into a zone file that a real CoreDNS
parses, so a name or address must never be able to carry zone-file syntax (newlines, spaces, `;`,
`$INCLUDE`, ...). Names are therefore limited to lowercase LDH labels and addresses to canonical
dotted quads.

The errors of the wire (DnsAdminError and its tree) are dnsrace.errors; they are re-exported here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping, cast

from .errors import (AliasChain, AliasTargetMissing, ChangeConflict, DnsAdminError, InvalidInput, NameConflict,
                     RecordSetExists, RecordSetMismatch, RecordSetMissing, RecordSetNotFound, ZoneFull, error_from_json)

__all__ = [
    "ARecord",
    "AliasChain",
    "AliasTargetMissing",
    "Change",
    "ChangeBatch",
    "ChangeConflict",
    "DnsAdminError",
    "InvalidInput",
    "NameConflict",
    "RecordSet",
    "RecordSetExists",
    "RecordSetMismatch",
    "RecordSetMissing",
    "RecordSetNotFound",
    "ZoneFull",
    "error_from_json",
    "escaped",
    "normalize_name",
    "normalize_zone",
    "quoted",
    "validate_ipv4",
]

RecordType = Literal["A", "ALIAS"]
Action = Literal["CREATE", "DELETE", "UPSERT"]

RECORD_TYPES: tuple[RecordType, ...] = ("A", "ALIAS")
ACTIONS: tuple[Action, ...] = ("CREATE", "DELETE", "UPSERT")

NAME_LENGTH_MAX = 253  # RFC 1035, written without the trailing dot
LABEL_LENGTH_MAX = 63
TTL_S_MAX = 86_400
WEIGHT_MAX = 255  # Route 53's bound for weighted records
RECORD_COUNT_MAX = 100
CHANGE_COUNT_MAX = 100
COMMENT_LENGTH_MAX = 256
CLIENT_LENGTH_MAX = 64
CLAIM_SHOWN_MAX = 80

# The zone's own name server is rendered by dns-admin itself; a record set there would clash with it.
RESERVED_FIRST_LABEL = "ns"

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_CLIENT = re.compile(r"[a-z0-9-]{0,64}")


# --- names and addresses -----------------------------------------------------------------------------


def escaped(text: str) -> str:
    """`text` on one printable line: every character that is not printable (newline, escape, line
    separator, lone surrogate) written as Python writes it, `\\n`, `\\x1b`, `\\u2028`, `\\ud800`."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def quoted(value: object) -> str:
    """How a message shows a value it was sent: repr, so escaped (no newline or control character can
    reach a log, an event or the timeline through it), and cut to CLAIM_SHOWN_MAX characters (a name of
    256 KiB must not become an event of 256 KiB)."""
    text = repr(value)
    return text if len(text) <= CLAIM_SHOWN_MAX else f"{text[:CLAIM_SHOWN_MAX - 3]}..."


def _name_error(field_path: str, name: object, reason: str) -> InvalidInput:
    return InvalidInput(f"{field_path}: {quoted(name)} is not a valid name: {reason}")


def _normalize_syntax(name: object, field_path: str) -> str:
    """Lowercase a domain name, strip one trailing dot and check its syntax (not its zone)."""
    if not isinstance(name, str):
        raise InvalidInput(f"{field_path}: expected a string, got {type(name).__name__}")
    # ASCII first: str.lower() maps some non-ASCII letters (the Kelvin sign) onto ASCII ones.
    if not name.isascii():
        raise _name_error(field_path, name, "only ASCII letters, digits, '-' and '.' are allowed")
    text = name[:-1] if name.endswith(".") else name
    text = text.lower()
    if not text:
        raise _name_error(field_path, name, "empty")
    if len(text) > NAME_LENGTH_MAX:
        raise _name_error(field_path, name, f"longer than {NAME_LENGTH_MAX} characters")
    for label in text.split("."):
        if not label:
            raise _name_error(field_path, name, "empty label")
        if len(label) > LABEL_LENGTH_MAX:
            raise _name_error(field_path, name, f"label longer than {LABEL_LENGTH_MAX} characters")
        if _LABEL.fullmatch(label) is None:
            raise _name_error(
                field_path,
                name,
                f"label {quoted(label)} must be a-z, 0-9 and '-', not starting or ending with '-'",
            )
    return text


def normalize_zone(zone: str) -> str:
    """Normalize a zone (apex) name: same syntax as a record name, at least two labels."""
    text = _normalize_syntax(zone, "zone")
    if "." not in text:
        raise _name_error("zone", zone, "a zone needs at least two labels (e.g. lab.test)")
    return text


def _normalize_name(name: object, *, zone: str, field_path: str) -> str:
    text = _normalize_syntax(name, field_path)
    apex = normalize_zone(zone)
    if text == apex:
        raise _name_error(field_path, name, f"the zone apex {apex} is managed by dns-admin")
    if not text.endswith("." + apex):
        raise _name_error(field_path, name, f"not inside the zone {apex}")
    if text == f"{RESERVED_FIRST_LABEL}.{apex}":
        raise _name_error(field_path, name, "reserved for the zone's name server")
    return text


def normalize_name(name: str, *, zone: str) -> str:
    """Lowercase, strip one trailing dot, and check that `name` is strictly inside `zone`."""
    return _normalize_name(name, zone=zone, field_path="name")


def _validate_ipv4(address: object, field_path: str) -> str:
    if not isinstance(address, str):
        raise InvalidInput(f"{field_path}: expected a string, got {type(address).__name__}")
    try:
        parsed = ipaddress.IPv4Address(address)
    except ValueError:
        raise InvalidInput(f"{field_path}: {quoted(address)} is not an IPv4 address") from None
    # Canonical form only: the value is written verbatim into the zone file.
    if str(parsed) != address:
        raise InvalidInput(f"{field_path}: {quoted(address)} is not a canonical dotted-quad IPv4 address")
    if parsed.is_unspecified or parsed.is_multicast or parsed == ipaddress.IPv4Address("255.255.255.255"):
        raise InvalidInput(f"{field_path}: {quoted(address)} cannot be the address of a host")
    return address


def validate_ipv4(address: str) -> str:
    """Return `address` if it is a canonical unicast IPv4 dotted quad; private ranges are allowed."""
    return _validate_ipv4(address, "address")


def _int_in_range(value: object, low: int, high: int, field_path: str) -> int:
    # `type(...) is int`: a JSON `true` must not pass for a weight of 1.
    if type(value) is not int:
        raise InvalidInput(
            f"{field_path}: expected an integer {low}..{high}, got {type(value).__name__} {quoted(value)}"
        )
    if not low <= value <= high:
        raise InvalidInput(f"{field_path}: {value} is outside {low}..{high}")
    return value


def _object(obj: object, allowed: Iterable[str], required: Iterable[str], field_path: str) -> Mapping[str, Any]:
    """Check that `obj` is a JSON object with only `allowed` keys and all `required` ones."""
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"{field_path}: expected an object, got {type(obj).__name__}")
    allowed_keys = set(allowed)
    for key in obj:
        if key not in allowed_keys:
            raise InvalidInput(f"{field_path}: unknown key {quoted(key)} (allowed: {', '.join(sorted(allowed_keys))})")
    for key in required:
        if key not in obj:
            raise InvalidInput(f"{field_path}: missing key {quoted(key)}")
    return cast(Mapping[str, Any], obj)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# --- record sets -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ARecord:
    """One address of an A record set; `weight` is Route 53's weighted-routing weight (0 = drained)."""

    address: str
    weight: int

    def __post_init__(self) -> None:
        _validate_ipv4(self.address, "address")
        _int_in_range(self.weight, 0, WEIGHT_MAX, "weight")

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "weight": self.weight}


@dataclass(frozen=True)
class RecordSet:
    """An A record set (ttl + records) or an ALIAS (target), keyed by (name, type) in the zone.

    Construction checks everything that does not depend on the zone, so an invalid record set cannot
    exist; `from_json` additionally checks that the name and target are inside the zone.
    """

    name: str
    type: RecordType
    ttl: int | None
    records: tuple[ARecord, ...]
    target: str | None

    def __post_init__(self) -> None:
        if _normalize_syntax(self.name, "name") != self.name:
            raise InvalidInput(f"name: {quoted(self.name)} is not normalized (lowercase, no trailing dot)")
        if self.type == "A":
            _int_in_range(self.ttl, 0, TTL_S_MAX, "ttl")
            if self.target is not None:
                raise InvalidInput("target: an A record set has no target")
            if not isinstance(self.records, tuple) or not all(isinstance(r, ARecord) for r in self.records):
                raise InvalidInput("records: expected a tuple of ARecord")
            if not 1 <= len(self.records) <= RECORD_COUNT_MAX:
                raise InvalidInput(
                    f"records: an A record set needs 1..{RECORD_COUNT_MAX} records, got {len(self.records)}"
                )
            seen: set[str] = set()
            for index, record in enumerate(self.records):
                if record.address in seen:
                    raise InvalidInput(f"records[{index}].address: duplicate address {record.address}")
                seen.add(record.address)
        elif self.type == "ALIAS":
            if self.ttl is not None:
                raise InvalidInput("ttl: an ALIAS carries no ttl (it answers with its target's)")
            if self.records:
                raise InvalidInput("records: an ALIAS has no records of its own")
            if self.target is None or _normalize_syntax(self.target, "target") != self.target:
                raise InvalidInput(f"target: {quoted(self.target)} is not a normalized name")
            if self.target == self.name:
                raise InvalidInput(f"target: an ALIAS cannot point at itself ({self.name})")
        else:
            raise InvalidInput(f"type: expected one of {', '.join(RECORD_TYPES)}, got {quoted(self.type)}")

    @classmethod
    def a(cls, name: str, ttl: int, records: Iterable[ARecord]) -> RecordSet:
        return cls(name=_normalize_syntax(name, "name"), type="A", ttl=ttl, records=tuple(records), target=None)

    @classmethod
    def alias(cls, name: str, target: str) -> RecordSet:
        return cls(
            name=_normalize_syntax(name, "name"),
            type="ALIAS",
            ttl=None,
            records=(),
            target=_normalize_syntax(target, "target"),
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.name, self.type)

    def to_json(self) -> dict[str, Any]:
        if self.type == "ALIAS":
            return {"name": self.name, "type": "ALIAS", "target": self.target}
        return {
            "name": self.name,
            "type": "A",
            "ttl": self.ttl,
            "records": [record.to_json() for record in self.records],
        }

    @classmethod
    def from_json(cls, obj: object, *, zone: str) -> RecordSet:
        return _record_set_from_json(obj, zone=zone, field_path="")

    def same_value(self, other: RecordSet) -> bool:
        """Exact equality except record order: the test a DELETE must pass (compare-and-swap)."""
        return (
            self.name == other.name
            and self.type == other.type
            and self.ttl == other.ttl
            and self.target == other.target
            and sorted(self.records, key=_record_order) == sorted(other.records, key=_record_order)
        )

    def describe(self) -> str:
        """Short human form, e.g. `ALIAS a.lab.test -> b.lab.test` or `A b.lab.test (2 records, ttl 60)`."""
        if self.type == "ALIAS":
            return f"ALIAS {self.name} -> {self.target}"
        count = len(self.records)
        return f"A {self.name} ({count} record{'s' if count != 1 else ''}, ttl {self.ttl})"


def _record_order(record: ARecord) -> tuple[int, int]:
    return (int(ipaddress.IPv4Address(record.address)), record.weight)


def _record_set_from_json(obj: object, *, zone: str, field_path: str) -> RecordSet:
    base = _object(obj, ("name", "type", "ttl", "records", "target"), ("name", "type"), field_path or "record_set")
    record_type = base["type"]
    type_path = _join(field_path, "type")
    if record_type not in RECORD_TYPES:
        raise InvalidInput(f"{type_path}: expected one of {', '.join(RECORD_TYPES)}, got {quoted(record_type)}")
    name = _normalize_name(base["name"], zone=zone, field_path=_join(field_path, "name"))
    if record_type == "ALIAS":
        if "ttl" in base:
            raise InvalidInput(f"{_join(field_path, 'ttl')}: an ALIAS carries no ttl (it answers with its target's)")
        if "records" in base:
            raise InvalidInput(f"{_join(field_path, 'records')}: an ALIAS has no records of its own")
        fields = _object(obj, ("name", "type", "target"), ("target",), field_path or "record_set")
        target = _normalize_name(fields["target"], zone=zone, field_path=_join(field_path, "target"))
        if target == name:
            raise InvalidInput(f"{_join(field_path, 'target')}: an ALIAS cannot point at itself ({name})")
        return RecordSet(name=name, type="ALIAS", ttl=None, records=(), target=target)
    if "target" in base:
        raise InvalidInput(f"{_join(field_path, 'target')}: an A record set has no target (use type ALIAS)")
    fields = _object(obj, ("name", "type", "ttl", "records"), ("ttl", "records"), field_path or "record_set")
    ttl = _int_in_range(fields["ttl"], 0, TTL_S_MAX, _join(field_path, "ttl"))
    raw_records = fields["records"]
    records_path = _join(field_path, "records")
    if not isinstance(raw_records, list):
        raise InvalidInput(f"{records_path}: expected a list, got {type(raw_records).__name__}")
    if not 1 <= len(raw_records) <= RECORD_COUNT_MAX:
        raise InvalidInput(
            f"{records_path}: an A record set needs 1..{RECORD_COUNT_MAX} records, got {len(raw_records)}"
        )
    records: list[ARecord] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_records):
        path = f"{records_path}[{index}]"
        record = _object(raw, ("address", "weight"), ("address", "weight"), path)
        address = _validate_ipv4(record["address"], f"{path}.address")
        weight = _int_in_range(record["weight"], 0, WEIGHT_MAX, f"{path}.weight")
        if address in seen:
            raise InvalidInput(f"{path}.address: duplicate address {address}")
        seen.add(address)
        records.append(ARecord(address=address, weight=weight))
    return RecordSet(name=name, type="A", ttl=ttl, records=tuple(records), target=None)


# --- changes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    action: Action
    record_set: RecordSet

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise InvalidInput(f"action: expected one of {', '.join(ACTIONS)}, got {quoted(self.action)}")

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "record_set": self.record_set.to_json()}

    @classmethod
    def from_json(cls, obj: object, *, zone: str) -> Change:
        return _change_from_json(obj, zone=zone, field_path="")

    def describe(self) -> str:
        """e.g. `UPSERT ALIAS dynamodb.us-east-1.lab.test -> plan-000145.dynamodb.us-east-1.lab.test`."""
        return f"{self.action} {self.record_set.describe()}"


def _change_from_json(obj: object, *, zone: str, field_path: str) -> Change:
    fields = _object(obj, ("action", "record_set"), ("action", "record_set"), field_path or "change")
    action = fields["action"]
    if action not in ACTIONS:
        raise InvalidInput(f"{_join(field_path, 'action')}: expected one of {', '.join(ACTIONS)}, got {quoted(action)}")
    record_set = _record_set_from_json(fields["record_set"], zone=zone, field_path=_join(field_path, "record_set"))
    return Change(action=cast(Action, action), record_set=record_set)


@dataclass(frozen=True)
class ChangeBatch:
    """Changes applied in order, all or nothing. `client` names the sender (e.g. `enactor-a`)."""

    changes: tuple[Change, ...]
    comment: str = ""
    client: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.changes, tuple) or not all(isinstance(c, Change) for c in self.changes):
            raise InvalidInput("changes: expected a tuple of Change")
        if not 1 <= len(self.changes) <= CHANGE_COUNT_MAX:
            raise InvalidInput(f"changes: a batch needs 1..{CHANGE_COUNT_MAX} changes, got {len(self.changes)}")
        _validate_comment(self.comment)
        _validate_client(self.client)

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [change.to_json() for change in self.changes],
            "comment": self.comment,
            "client": self.client,
        }

    @classmethod
    def from_json(cls, obj: object, *, zone: str) -> ChangeBatch:
        fields = _object(obj, ("changes", "comment", "client"), ("changes",), "batch")
        raw_changes = fields["changes"]
        if not isinstance(raw_changes, list):
            raise InvalidInput(f"changes: expected a list, got {type(raw_changes).__name__}")
        if not 1 <= len(raw_changes) <= CHANGE_COUNT_MAX:
            raise InvalidInput(f"changes: a batch needs 1..{CHANGE_COUNT_MAX} changes, got {len(raw_changes)}")
        comment = _validate_comment(fields.get("comment", ""))
        client = _validate_client(fields.get("client", ""))
        changes: list[Change] = []
        for index, raw in enumerate(raw_changes):
            try:
                changes.append(_change_from_json(raw, zone=zone, field_path=""))
            except InvalidInput as error:
                raise InvalidInput(f"change {index}: {error.message}", change_index=index) from None
        return cls(changes=tuple(changes), comment=comment, client=client)


def _validate_comment(comment: object) -> str:
    if not isinstance(comment, str):
        raise InvalidInput(f"comment: expected a string, got {type(comment).__name__}")
    if len(comment) > COMMENT_LENGTH_MAX:
        raise InvalidInput(f"comment: longer than {COMMENT_LENGTH_MAX} characters")
    if not comment.isprintable():
        raise InvalidInput("comment: only printable characters are allowed (no newlines or tabs)")
    return comment


def _validate_client(client: object) -> str:
    if not isinstance(client, str):
        raise InvalidInput(f"client: expected a string, got {type(client).__name__}")
    if len(client) > CLIENT_LENGTH_MAX or _CLIENT.fullmatch(client) is None:
        raise InvalidInput(f"client: {quoted(client)} must be at most {CLIENT_LENGTH_MAX} characters of a-z, 0-9 and '-'")
    return client
