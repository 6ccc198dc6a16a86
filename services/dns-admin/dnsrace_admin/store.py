"""The durable half of dns-admin: record sets, the change counter and the audit log in one SQLite file.

An accepted batch (its record changes, its audit row and the change counter) is committed in ONE
transaction with journal_mode=WAL and synchronous=FULL before dns-admin answers 200, so "accepted"
means "survives a crash", and a change number is never handed out twice.

This class is synchronous and not thread-safe by design: the engine calls it from a single worker
thread, which both keeps SQLite off the event loop and serializes every write.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from dnsrace.records import RecordSet

RecordKey = tuple[str, str]

SCHEMA_VERSION = 1
AUDIT_ROW_COUNT_MAX = 100_000  # oldest rows are pruned beyond this, so a flood cannot fill the disk
BUSY_TIMEOUT_S = 5.0
_SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS record_sets (
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (name, type)
) STRICT;
CREATE TABLE IF NOT EXISTS audit (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id    TEXT,
    t            REAL NOT NULL,
    client       TEXT NOT NULL,
    comment      TEXT NOT NULL,
    batch        TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    message      TEXT NOT NULL,
    change_index INTEGER
) STRICT;
"""


def _storable(text: str) -> str:
    """`text` as SQLite can store it: a lone surrogate (valid in a JSON string, not in UTF-8) is written
    as its escape, `\\ud800`, so the row is stored instead of the insert failing and the row being lost."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class StoreError(Exception):
    """The store file does not hold what this dns-admin expects; refusing beats serving a wrong zone."""


@dataclass(frozen=True)
class AuditEntry:
    """One batch as received, and what became of it (`outcome` is "accepted" or an error code)."""

    change_id: str | None
    t: float
    client: str
    comment: str
    batch: Any
    outcome: str
    message: str
    change_index: int | None = None
    seq: int | None = None  # assigned by the store

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "change_id": self.change_id,
            "t": self.t,
            "client": self.client,
            "comment": self.comment,
            "batch": self.batch,
            "outcome": self.outcome,
            "message": self.message,
            "change_index": self.change_index,
        }


@dataclass(frozen=True)
class StoredZone:
    change_number: int  # the last committed change; 0 for a zone that never changed
    record_sets: dict[RecordKey, RecordSet]


class ZoneStore:
    def __init__(self, path: Path, *, zone: str) -> None:
        self.path = path
        self.zone = zone
        # check_same_thread=False: the store is created on the main thread and then used only by the
        # engine's single worker thread; the engine guarantees there is never concurrent use.
        self._connection = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        try:
            self._initialize()
        except BaseException:
            self._connection.close()
            raise

    def _initialize(self) -> None:
        mode = self._connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: could not enable WAL journal mode (got {mode!r})")
        self._connection.execute("PRAGMA synchronous=FULL")
        # Read back, as for WAL: a build of SQLite that ignored it would acknowledge batches it can lose.
        if self.durability()["synchronous"] != "FULL":
            raise StoreError(f"{self.path}: could not set synchronous=FULL (got {self.durability()['synchronous']})")
        with self._transaction() as cursor:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            cursor.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            cursor.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('zone', ?)", (self.zone,))
            cursor.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('change_number', '0')")
            meta = dict(cursor.execute("SELECT key, value FROM meta").fetchall())
        if meta["schema_version"] != str(SCHEMA_VERSION):
            raise StoreError(f"{self.path}: schema version {meta['schema_version']}, expected {SCHEMA_VERSION}")
        if meta["zone"] != self.zone:
            raise StoreError(f"{self.path}: holds zone {meta['zone']!r}, not {self.zone!r}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        # BEGIN IMMEDIATE takes the write lock up front, so a second process on the same file fails
        # fast at BEGIN instead of half-way through a batch.
        cursor = self._connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")

    def load(self) -> StoredZone:
        cursor = self._connection.cursor()
        number = int(cursor.execute("SELECT value FROM meta WHERE key = 'change_number'").fetchone()[0])
        record_sets: dict[RecordKey, RecordSet] = {}
        for name, record_type, body in cursor.execute("SELECT name, type, body FROM record_sets"):
            # Re-validate on load: a row that is not a valid record set must stop start-up, not be
            # rendered into the zone file.
            record_set = RecordSet.from_json(json.loads(body), zone=self.zone)
            if record_set.key != (name, record_type):
                raise StoreError(f"{self.path}: row ({name}, {record_type}) holds {record_set.key}")
            record_sets[record_set.key] = record_set
        return StoredZone(change_number=number, record_sets=record_sets)

    def commit_batch(
        self,
        *,
        change_number: int,
        upserts: Iterable[RecordSet],
        deletes: Iterable[RecordKey],
        audit: AuditEntry,
    ) -> None:
        """Commit one accepted batch as change `change_number`, with its audit row, atomically."""
        with self._transaction() as cursor:
            stored = int(cursor.execute("SELECT value FROM meta WHERE key = 'change_number'").fetchone()[0])
            if stored != change_number - 1:
                raise StoreError(
                    f"{self.path}: committing change {change_number} but the store is at {stored}; "
                    "is a second dns-admin writing this file?"
                )
            for name, record_type in deletes:
                cursor.execute("DELETE FROM record_sets WHERE name = ? AND type = ?", (name, record_type))
            for record_set in upserts:
                cursor.execute(
                    "INSERT OR REPLACE INTO record_sets (name, type, body) VALUES (?, ?, ?)",
                    (record_set.name, record_set.type, json.dumps(record_set.to_json(), sort_keys=True)),
                )
            cursor.execute("UPDATE meta SET value = ? WHERE key = 'change_number'", (str(change_number),))
            self._insert_audit(cursor, audit)

    def append_audit(self, audit: AuditEntry) -> None:
        """Record a rejected batch, in its own transaction (nothing else changed)."""
        with self._transaction() as cursor:
            self._insert_audit(cursor, audit)

    def _insert_audit(self, cursor: sqlite3.Cursor, audit: AuditEntry) -> None:
        cursor.execute(
            "INSERT INTO audit (change_id, t, client, comment, batch, outcome, message, change_index)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                audit.change_id,
                audit.t,
                _storable(audit.client),
                _storable(audit.comment),
                json.dumps(audit.batch, sort_keys=True),  # ASCII: a lone surrogate is written \udxxx
                audit.outcome,
                _storable(audit.message),
                audit.change_index,
            ),
        )
        cursor.execute("DELETE FROM audit WHERE seq <= ?", ((cursor.lastrowid or 0) - AUDIT_ROW_COUNT_MAX,))

    def read_audit(self, limit: int) -> list[AuditEntry]:
        """The newest `limit` audit rows, oldest first."""
        rows = self._connection.execute(
            "SELECT seq, change_id, t, client, comment, batch, outcome, message, change_index"
            " FROM audit ORDER BY seq DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            AuditEntry(
                seq=seq,
                change_id=change_id,
                t=t,
                client=client,
                comment=comment,
                batch=json.loads(batch),
                outcome=outcome,
                message=message,
                change_index=change_index,
            )
            for seq, change_id, t, client, comment, batch, outcome, message, change_index in reversed(rows)
        ]

    def durability(self) -> dict[str, str]:
        """The settings "accepted means it survives a crash" rests on, as this connection has them."""
        journal_mode = self._connection.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = self._connection.execute("PRAGMA synchronous").fetchone()[0]
        return {"journal_mode": str(journal_mode).lower(),
                "synchronous": _SYNCHRONOUS_NAMES.get(int(synchronous), str(synchronous))}

    def close(self) -> None:
        self._connection.close()
