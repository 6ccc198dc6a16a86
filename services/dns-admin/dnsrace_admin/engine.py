"""The engine: the one parent function of dns-admin, sequencing rules, store, zone file and events.

For each batch, under one lock (batches are strictly serialized):
  parse (InvalidInput) -> apply the rules to a copy (ChangeConflict) -> commit record changes, audit
  row and change counter in one SQLite transaction -> swap the in-memory zone -> emit
  `batch_accepted` -> render and atomically write the zone file -> emit `zone_rendered` -> answer.
A rejected batch gets an audit row of its own and a `batch_rejected` event, and changes nothing.
Both events say which changes they mean as data, in the audit's shape (dnsrace.zone_history reads them):
`batch_accepted` its `changes`, `batch_rejected` the `change` that failed (null when it names none).

Numbers: accepted batch n is `change-%06d` % n; n is never reused (the counter is committed with the
batch) and continues across restarts. The SOA serial is n + 1, so the never-changed zone already has a
positive serial (1) and every accepted batch strictly increases it, across restarts too.
(max(n, 1) would give change 1 the same serial as the empty zone, and CoreDNS would not reload.)

The critical section runs as its own shielded task: if the HTTP client disconnects (aiohttp cancels the
handler), a commit already under way still finishes and updates memory, so memory never diverges from
the store.

Every wait is bounded, and what happens at the bound is an answer, not a hang:
- a batch waits at most LOCK_WAIT_S for the ones before it: then 503 `Busy`, nothing changed;
- each store call (SQLite, the zone file, in the one worker thread) is awaited at most STORE_WAIT_S:
  then 503 `StoreTimeout`, which means "may have happened" (a commit can still land in the thread).
  Memory may then lag the store, so the next batch first reloads the zone from the store (that load
  queues behind the stalled call in the same thread) and renders it, before anything else.
"""

from __future__ import annotations

import asyncio
import functools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from dnsrace.batch_rules import RECORD_SET_COUNT_MAX, RecordKey, apply_changes
from dnsrace.deadline import within
from dnsrace.errors import Busy, NotServing, StoreTimeout, ZoneFileWriteFailed
from dnsrace.plans import plan_id_in_record_name
from dnsrace.records import (
    Change,
    ChangeBatch,
    DnsAdminError,
    InvalidInput,
    RecordSet,
    RecordSetNotFound,
    _validate_client,
    _validate_comment,
    escaped,
    normalize_name,
)
from dnsrace.zone_history import event_changes

from .event_sink import EventSink, log
from .store import AuditEntry, ZoneStore
from .zone_file import render, write_zone_file

T = TypeVar("T")

EMIT_TIMEOUT_S = 1.0  # the sink is bounded too; this is the engine's own guarantee
LOCK_WAIT_S = 30.0  # for the batches before this one (each holds the lock a few store calls at most)
STORE_WAIT_S = 10.0  # for one store call or zone-file write in the worker thread
AUDIT_LIMIT_MAX = 1000


def change_id_of(change_number: int) -> str:
    return f"change-{change_number:06d}"


def serial_of(change_number: int) -> int:
    return change_number + 1


def plan_of(change: Change) -> str | None:
    """The plan a change is about: the first label of the record set it names (an ALIAS: its target)."""
    record_set = change.record_set
    name = record_set.target if record_set.type == "ALIAS" and record_set.target else record_set.name
    return plan_id_in_record_name(name)


@dataclass(frozen=True)
class BatchAccepted:
    change_id: str
    change_number: int
    serial: int

    def to_json(self) -> dict[str, Any]:
        # "INSYNC": the zone file is written before we answer (Route 53 answers PENDING first).
        return {"change_id": self.change_id, "serial": self.serial, "status": "INSYNC"}


class Engine:
    def __init__(
        self,
        store: ZoneStore,
        *,
        zone: str,
        zone_file_path: Path,
        negative_ttl_s: int,
        events: EventSink,
        ns_address: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
        record_set_count_max: int = RECORD_SET_COUNT_MAX,
    ) -> None:
        if store.zone != zone:
            raise ValueError(f"store holds zone {store.zone!r}, engine serves {zone!r}")
        self._store = store
        self._zone = zone
        self._zone_file_path = zone_file_path
        self._negative_ttl_s = negative_ttl_s
        self._events = events
        self._ns_address = ns_address
        self._clock = clock
        self._record_set_count_max = record_set_count_max
        # One worker thread: SQLite stays off the event loop and every store call is serialized.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dns-admin-store")
        self._lock = asyncio.Lock()
        self._record_sets: dict[RecordKey, RecordSet] = {}
        self._change_number = 0
        self._started = False
        self._reload_needed = False  # a store call timed out: memory may lag the store

    # --- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the zone from the store and render the zone file once, before serving anything."""
        async with self._lock:
            await self._load()
            self._started = True

    async def _load(self) -> None:
        stored = await self._run(self._store.load)
        self._record_sets = stored.record_sets
        self._change_number = stored.change_number
        self._reload_needed = False
        await self._render()

    async def close(self) -> None:
        """Wait for the batch in flight (if any), then close the store."""
        async with self._lock:
            self._started = False
            await self._run(self._store.close)
        self._executor.shutdown(wait=True)

    # --- reads ---------------------------------------------------------------------------------------

    @property
    def zone(self) -> str:
        return self._zone

    @property
    def change_number(self) -> int:
        return self._change_number

    @property
    def serial(self) -> int:
        return serial_of(self._change_number)

    def record_sets(self) -> list[RecordSet]:
        return [self._record_sets[key] for key in sorted(self._record_sets)]

    def get(self, name: str, record_type: str) -> RecordSet:
        normalized = normalize_name(name, zone=self._zone)
        if record_type not in ("A", "ALIAS"):
            raise InvalidInput(f"type: expected A or ALIAS, got {record_type!r}")
        record_set = self._record_sets.get((normalized, record_type))
        if record_set is None:
            raise RecordSetNotFound(f"record set {record_type} {normalized} does not exist")
        return record_set

    async def audit(self, limit: int) -> list[AuditEntry]:
        if type(limit) is not int or not 1 <= limit <= AUDIT_LIMIT_MAX:
            raise InvalidInput(f"limit: expected an integer 1..{AUDIT_LIMIT_MAX}, got {limit!r}")
        return await self._run(functools.partial(self._store.read_audit, limit))

    # --- the write path ------------------------------------------------------------------------------

    async def submit(self, body: object) -> BatchAccepted:
        """Apply the batch `body` (parsed JSON) all-or-nothing; raise the DnsAdminError that rejects it."""
        try:
            if self._lock.locked():
                # within(), not asyncio.timeout: one deadline, in a task of its own (dnsrace.deadline says
                # why). A lock granted after the caller went away is released again (undo), never kept.
                await within(LOCK_WAIT_S, self._lock.acquire(), undo=lambda _taken: self._lock.release())
            else:
                await self._lock.acquire()   # free: taken at once, with nothing to wait for
        except TimeoutError:
            busy = Busy(f"dns-admin is busy: the batches before this one held the zone for more than "
                        f"{LOCK_WAIT_S:g} s; nothing was changed, send it again")
            await self._reject(body, None, busy)
            raise busy from None
        # From here the lock belongs to the task, which releases it; the shield keeps a cancelled
        # caller from interrupting a commit half-way through (see module docstring).
        task = asyncio.ensure_future(self._submit_locked(body))
        task.add_done_callback(_retrieve_exception)
        return await asyncio.shield(task)

    async def _submit_locked(self, body: object) -> BatchAccepted:
        try:
            if not self._started:
                raise NotServing(
                    "dns-admin is not serving (starting or shutting down); nothing was changed",
                )
            batch: ChangeBatch | None = None
            try:
                if self._reload_needed:
                    await self._load()
                    log("zone_reloaded", change_number=self._change_number, why="a store call had timed out")
                batch = ChangeBatch.from_json(body, zone=self._zone)
                new_record_sets = apply_changes(self._record_sets, batch.changes,
                                                record_set_count_max=self._record_set_count_max)
            except DnsAdminError as error:
                await self._reject(body, batch, error)
                raise
            return await self._accept(body, batch, new_record_sets)
        finally:
            self._lock.release()

    async def _accept(
        self, body: object, batch: ChangeBatch, new_record_sets: dict[RecordKey, RecordSet]
    ) -> BatchAccepted:
        change_number = self._change_number + 1
        change_id = change_id_of(change_number)
        upserts = [rs for key, rs in sorted(new_record_sets.items()) if self._record_sets.get(key) != rs]
        deletes = [key for key in sorted(self._record_sets) if key not in new_record_sets]
        audit = AuditEntry(
            change_id=change_id,
            t=self._clock(),
            client=batch.client,
            comment=batch.comment,
            batch=body,
            outcome="accepted",
            message=f"{change_id}: {len(batch.changes)} change(s) applied",
        )
        try:
            await self._run(
                functools.partial(
                    self._store.commit_batch, change_number=change_number, upserts=upserts, deletes=deletes,
                    audit=audit,
                )
            )
        except StoreTimeout:
            # Neither accepted nor rejected: say so, so the history shows a batch that may have happened.
            await self._emit("batch_outcome_unknown", plan=first_plan(batch.changes), change_id=change_id,
                             client=batch.client, why=f"the store did not answer within {STORE_WAIT_S:g} s")
            raise
        self._record_sets = new_record_sets
        self._change_number = change_number
        await self._emit(
            "batch_accepted",
            plan=first_plan(batch.changes),
            change_id=change_id,
            serial=self.serial,
            client=batch.client,
            comment=batch.comment,
            **event_changes(batch.changes),
        )
        try:
            await self._render()
        except Exception as error:
            log("zone_file_write_failed", change_id=change_id, error=repr(error))
            raise ZoneFileWriteFailed(
                f"{change_id} is committed, but writing the zone file failed ({error}); "
                f"CoreDNS still serves the previous serial"
            ) from error
        return BatchAccepted(change_id=change_id, change_number=change_number, serial=self.serial)

    async def _reject(self, body: object, batch: ChangeBatch | None, error: DnsAdminError) -> None:
        client = batch.client if batch else _claimed(body, "client", 64)
        comment = batch.comment if batch else _claimed(body, "comment", 256)
        audit = AuditEntry(
            change_id=None,
            t=self._clock(),
            client=client,
            comment=comment,
            batch=body,
            outcome=error.code,
            message=error.message,
            change_index=error.change_index,
        )
        try:
            await self._run(functools.partial(self._store.append_audit, audit))
        except Exception as audit_error:
            # The rejection stands either way; losing its audit row must not turn it into a 500.
            log("audit_write_failed", outcome=error.code, error=repr(audit_error))
        plan: str | None = None
        failing: Change | None = None     # the change the error names, said structurally (not only in its message)
        if batch is not None:
            index = error.change_index
            failing = batch.changes[index] if index is not None and 0 <= index < len(batch.changes) else None
            plan = (plan_of(failing) if failing else None) or first_plan(batch.changes)
        # Only validated values reach an event (and so the timeline): a malformed batch's claims stay
        # in its audit row alone (escaped, and exact in its JSON `batch`).
        await self._emit(
            "batch_rejected",
            plan=plan,
            error=error.code,
            message=error.message,
            change_index=error.change_index,
            change=failing.to_json() if failing else None,
            client=batch.client if batch else _valid_or_none(body, "client", _validate_client),
            comment=batch.comment if batch else _valid_or_none(body, "comment", _validate_comment),
        )

    async def refuse_unread(self, error: DnsAdminError) -> None:
        """A request refused before it was a batch at all (not UTF-8, not JSON, too large): it leaves
        its audit row (`batch` null) and its `batch_rejected` event like any refused batch."""
        await self._reject(None, None, error)

    async def _render(self) -> None:
        text = render(
            self._zone,
            self.serial,
            self._record_sets.values(),
            negative_ttl_s=self._negative_ttl_s,
            ns_address=self._ns_address,
        )
        await self._run(functools.partial(write_zone_file, self._zone_file_path, text))
        await self._emit("zone_rendered", plan=None, serial=self.serial)

    # --- edges ---------------------------------------------------------------------------------------

    async def _run(self, function: Callable[[], T]) -> T:
        """`function` in the store's worker thread, awaited at most STORE_WAIT_S (StoreTimeout)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, function)
        try:
            # The shield lets a call that is late still run to its end: a thread cannot be stopped
            # half-way, and a commit must not be abandoned between its queue and its transaction.
            return await within(STORE_WAIT_S, asyncio.shield(future))
        except TimeoutError:
            self._reload_needed = True
            future.add_done_callback(_retrieve_exception)
            call = getattr(getattr(function, "func", function), "__name__", "?")  # partial(f, ...) -> f
            log("store_call_timed_out", call=call, wait_s=STORE_WAIT_S)
            raise StoreTimeout(f"the store did not answer within {STORE_WAIT_S:g} s; the batch may or may not "
                               f"have been committed: read the zone before sending it again") from None

    async def _emit(self, kind: str, *, plan: str | None, **detail: Any) -> None:
        """Report a decision; never fails and never holds the batch longer than EMIT_TIMEOUT_S."""
        try:
            await within(EMIT_TIMEOUT_S, self._events.emit(kind, plan=plan, token=None, **detail))
        except Exception as error:
            log("event_emit_failed", event=kind, error=repr(error))


def first_plan(changes: tuple[Change, ...]) -> str | None:
    for change in changes:
        plan = plan_of(change)
        if plan is not None:
            return plan
    return None


def _claim(body: object, key: str) -> str:
    """What a malformed batch claims in `key`, exactly ("" if it claims no string)."""
    value = body.get(key) if isinstance(body, Mapping) else None
    return value if isinstance(value, str) else ""


def _claimed(body: object, key: str, length_max: int) -> str:
    """The claim for the audit row: escaped onto one printable line (whoever prints the audit prints no
    line of the client's making) and bounded; the exact claim stays in the row's JSON `batch`."""
    return escaped(_claim(body, key))[:length_max]


def _valid_or_none(body: object, key: str, validate: Callable[[object], str]) -> str | None:
    """The claim for an event: as sent if valid, else None (never an escaped or cut form)."""
    try:
        return validate(_claim(body, key))
    except InvalidInput:
        return None


def _retrieve_exception(task: asyncio.Future[Any]) -> None:
    # The shielded task's caller may be gone; retrieving the exception here keeps asyncio from
    # logging "exception was never retrieved" for an ordinary rejection.
    if not task.cancelled():
        task.exception()
