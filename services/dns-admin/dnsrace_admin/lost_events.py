"""Batches this dns-admin committed whose `batch_accepted` event a crash lost: found at start, reported again.

The engine commits a batch (SQLite, synchronous=FULL), then emits `batch_accepted`. A SIGKILL between the
two leaves a change in the zone that the history never mentions: a chaos run (safe, seed 12) went from
change-000016 to change-000018, and the trace check rightly found no execution of the model that explains
the zone. The store is the truth, so at start, before the HTTP port opens, dns-admin compares its newest
accepted audit rows with its own `batch_accepted` events in the stream and appends each missing one again:
the same fields as the original, plus `recovered: true` and `decided_at`, with `t` the moment the batch
was decided (its audit row's time, taken just before the commit), so every reader that orders by time
puts it where it happened.

What is compared is bounded twice:
- only the newest RECENT_ACCEPTED_MAX accepted rows (a crash loses at most the batch in flight; a few more
  cover a dns-admin killed again while Redis was away);
- only rows committed after the stream's oldest entry (its id is Redis's clock at the append): a reset lab
  whose stream was emptied, or a stream trimmed past those rows, has nothing to compare them with, and a
  batch the stream never could have held is not "lost".

Pure: `missing_batches` (rows and events in, rows out) and `recovered_event` (a row to the event). The I/O
(`recover_lost_events`) reads the audit through the engine (its store's one thread) and Redis, and never
stops start-up: within TIMEOUT_S, else (or on any failure, or when the stream holds ENTRIES_READ_MAX or more
entries since the rows compared, where a reported batch could go unseen) it is logged as
`lost_events_unchecked` and dns-admin serves, at most TIMEOUT_S later, with the history as incomplete as
before. Not covered: a `batch_rejected` lost the same way (a refused batch changes nothing in the zone).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from dnsrace.deadline import within
from dnsrace.events import Event, append_event
from dnsrace.records import ChangeBatch, DnsAdminError
from dnsrace.zone_history import event_changes

from .engine import first_plan, serial_of
from .event_sink import log
from .store import AuditEntry

ReadAudit = Callable[[int], Awaitable[list[AuditEntry]]]   # Engine.audit: the newest n rows, oldest first

RECENT_ACCEPTED_MAX = 10
AUDIT_ROWS_READ = 200  # rejected rows sit between accepted ones; enough to find the newest 10 accepted
SLACK_S = 5.0  # read the stream from this long before the oldest row compared (commit, then append)
PAGE = 2_000
ENTRIES_READ_MAX = 50_000
TIMEOUT_S = 3.0


def change_number_of(change_id: str) -> int | None:
    """`change-000017` -> 17; None for anything else."""
    prefix, _, number = change_id.partition("-")
    return int(number) if prefix == "change" and number.isdigit() else None


def missing_batches(rows: Iterable[AuditEntry], reported: Iterable[str], *, stream_start_s: float | None,
                    recent_max: int = RECENT_ACCEPTED_MAX) -> list[AuditEntry]:
    """The newest `recent_max` accepted rows committed after the stream began whose change id no
    `batch_accepted` event in `reported` names, oldest first. No stream (None): nothing to compare with."""
    if stream_start_s is None:
        return []
    accepted = [row for row in rows if row.outcome == "accepted" and row.change_id
                and change_number_of(row.change_id) is not None]
    recent = sorted(accepted, key=lambda row: change_number_of(row.change_id or "") or 0)[-recent_max:]
    seen = set(reported)
    return [row for row in recent if row.t >= stream_start_s and row.change_id not in seen]


def recovered_event(row: AuditEntry, *, zone: str, service: str) -> Event:
    """The `batch_accepted` the engine would have emitted for this row, marked as reported again."""
    batch = ChangeBatch.from_json(row.batch, zone=zone)
    return Event(t=row.t, service=service, kind="batch_accepted", plan=first_plan(batch.changes), token=None, detail={
        "change_id": row.change_id, "serial": serial_of(change_number_of(row.change_id or "") or 0), "client": batch.client, "comment": batch.comment,
        **event_changes(batch.changes), "recovered": True, "decided_at": row.t})


def entry_time_s(entry_id: bytes | str) -> float:
    """A stream entry id's milliseconds (Redis's clock when it appended), in seconds."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0]) / 1000.0


def reported_change_ids(entries: Sequence[tuple[Any, dict[Any, Any]]], *, service: str) -> list[str]:
    """Change ids of this service's `batch_accepted` events among stream entries; unreadable ones skipped."""
    found = []
    for _entry_id, fields in entries:
        raw = fields.get(b"event", fields.get("event"))
        try:
            event = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if isinstance(event, dict) and event.get("kind") == "batch_accepted" and event.get("service") == service:
            change_id = (event.get("detail") or {}).get("change_id")
            if isinstance(change_id, str):
                found.append(change_id)
    return found


class TooManyEntries(Exception):
    """The stream holds more entries since the rows compared than are read: a batch reported among the
    rest could go unseen and be reported twice, so nothing is appended."""


async def _entries_since(redis: Any, stream: str, start_s: float) -> list[tuple[Any, dict[Any, Any]]]:
    entries: list[tuple[Any, dict[Any, Any]]] = []
    low = f"{max(0, int(start_s * 1000))}-0"
    while True:
        page = await redis.xrange(stream, min=low, max="+", count=PAGE)
        entries.extend(page)
        if len(page) < PAGE:
            return entries
        if len(entries) >= ENTRIES_READ_MAX:
            raise TooManyEntries(f"{ENTRIES_READ_MAX} or more stream entries since {start_s:.3f}")
        last = page[-1][0].decode() if isinstance(page[-1][0], bytes) else page[-1][0]
        low = f"({last}"


async def _check(read_audit: ReadAudit, redis: Any, *, stream: str, zone: str, service: str) -> list[str]:
    rows = await read_audit(AUDIT_ROWS_READ)
    first = await redis.xrange(stream, min="-", max="+", count=1)
    stream_start_s = entry_time_s(first[0][0]) if first else None
    candidates = missing_batches(rows, (), stream_start_s=stream_start_s)
    if not candidates:
        return []
    entries = await _entries_since(redis, stream, candidates[0].t - SLACK_S)
    lost = missing_batches(rows, reported_change_ids(entries, service=service), stream_start_s=stream_start_s)
    recovered = []
    for row in lost:
        try:
            event = recovered_event(row, zone=zone, service=service)
        except (DnsAdminError, ValueError, TypeError, KeyError) as error:  # an accepted row parses; say so if not
            log("lost_event_unreadable", change_id=row.change_id, error=str(error))
            continue
        seq = await append_event(redis, event, stream=stream, timeout_s=TIMEOUT_S)
        log("lost_event_recovered", change_id=row.change_id, seq=seq, committed_at=row.t)
        recovered.append(row.change_id or "")
    return recovered


async def recover_lost_events(read_audit: ReadAudit, redis: Any, *, stream: str, zone: str,
                              service: str) -> list[str]:
    """Report again the batches whose events were lost (their change ids); never raises."""
    try:
        return await within(TIMEOUT_S, _check(read_audit, redis, stream=stream, zone=zone, service=service))
    except Exception as error:  # Redis down, a trimmed stream mid-read, ...: serve anyway, and say so
        log("lost_events_unchecked", error=repr(error))
        return []
