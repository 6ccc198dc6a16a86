"""dns-admin's change-batch rules, as a pure function over the zone's record sets. They live in common
so that the model's trail replay and the enactor's unit fakes judge batches with them without importing
dns-admin.

Route 53 semantics, kept because the incident depends on them:
- a batch is applied in order to a working copy, and the first change that does not fit rejects the
  whole batch (the error names the change), so nothing is ever half-applied;
- CREATE fails if the record set exists; DELETE must name the current value exactly, which gives
  callers compare-and-swap (DELETE old + CREATE new in one batch); UPSERT creates or replaces;
- an ALIAS must point at an A record set that exists after the earlier changes of the same batch.
  An ALIAS whose target is itself an ALIAS is rejected the same way (AliasTargetMissing): chains
  would make "what does the endpoint answer" depend on more than one lookup (and the zone file
  flattens one level only). The other way to build a chain, deleting an alias's target and creating
  an ALIAS at its name, is rejected too (AliasChain), so no chain can ever be stored;
- an A and an ALIAS never share a name (NameConflict);
- deleting an A record set that an ALIAS points at IS allowed, as in Route 53: the alias then
  answers empty. That is exactly the outage this lab reproduces, so it must stay possible;
- the zone holds at most `record_set_count_max` record sets (Route 53 has a per-zone quota too): a
  batch that would leave more than that, and more than there were, is refused whole (ZoneFull), so a
  full zone still takes every batch that shrinks it or keeps its size.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from dnsrace.records import (
    AliasChain,
    AliasTargetMissing,
    Change,
    NameConflict,
    RecordSet,
    RecordSetExists,
    RecordSetMismatch,
    RecordSetMissing,
    ZoneFull,
)

RecordKey = tuple[str, str]  # (name, type)

RECORD_SET_COUNT_MAX = 10_000  # per zone; a plan adds one per endpoint and cleanup keeps K+1 of them

_OTHER_TYPE = {"A": "ALIAS", "ALIAS": "A"}


def apply_changes(current: Mapping[RecordKey, RecordSet], changes: Sequence[Change], *,
                  record_set_count_max: int = RECORD_SET_COUNT_MAX) -> dict[RecordKey, RecordSet]:
    """Return the record sets after `changes`, or raise the ChangeConflict of the first misfit.

    `current` is never modified; the caller commits the returned mapping only if this returns.
    """
    working = dict(current)
    for index, change in enumerate(changes):
        _apply_one(working, index, change)
    if len(working) > record_set_count_max and len(working) > len(current):
        raise ZoneFull(
            f"the batch would leave {len(working)} record sets in the zone, more than its limit of "
            f"{record_set_count_max}; nothing was changed (delete record sets first)"
        )
    return working


def _apply_one(working: dict[RecordKey, RecordSet], index: int, change: Change) -> None:
    record_set = change.record_set
    key = record_set.key
    prefix = f"change {index}: {change.describe()}"
    if change.action == "DELETE":
        existing = working.get(key)
        if existing is None:
            raise RecordSetMissing(f"{prefix}: record set does not exist", change_index=index)
        if not existing.same_value(record_set):
            raise RecordSetMismatch(
                f"{prefix}: value does not match the current value ({_value(existing)})",
                change_index=index,
            )
        del working[key]
        return
    if change.action == "CREATE" and key in working:
        raise RecordSetExists(f"{prefix}: record set already exists ({_value(working[key])})", change_index=index)
    other_key = (record_set.name, _OTHER_TYPE[record_set.type])
    if other_key in working:
        raise NameConflict(
            f"{prefix}: an {other_key[1]} record set already exists at {record_set.name}",
            change_index=index,
        )
    if record_set.type == "ALIAS":
        target = record_set.target
        assert target is not None  # guaranteed by RecordSet; narrows the type only
        if (target, "ALIAS") in working:
            raise AliasTargetMissing(
                f"{prefix}: alias target is itself an ALIAS; an alias must point at an A record set",
                change_index=index,
            )
        if (target, "A") not in working:
            raise AliasTargetMissing(f"{prefix}: alias target does not exist", change_index=index)
        pointing = sorted(rs.name for rs in working.values() if rs.type == "ALIAS" and rs.target == record_set.name)
        if pointing:
            raise AliasChain(
                f"{prefix}: {pointing[0]} is an ALIAS to {record_set.name}, which cannot become an ALIAS itself",
                change_index=index,
            )
    working[key] = record_set


def _value(record_set: RecordSet) -> str:
    if record_set.type == "ALIAS":
        return f"-> {record_set.target}"
    records = ", ".join(f"{r.address} weight {r.weight}" for r in record_set.records)
    return f"ttl {record_set.ttl}: {records}"
