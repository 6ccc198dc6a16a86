"""The history of one run (a chaos run, a reproduce-outage run): one JSON object per line, written
first, judged afterwards; this module is its only writer.

Line 1 is the run itself (`source: run`): the mode, the endpoint, the stack, and what the checker's
bounds come from: a chaos run's seed, every parameter and the schedule they gave (generator.Schedule),
or a reproduce-outage run's scenario and its `bounds` (outage.SCENARIO_BOUNDS). Then every row by
time, each with a `source`:

    client       the probes (client.py): `invoke`, then exactly one of `ok` (the addresses), `fail`
                 (certainly no answer: NXDOMAIN or NODATA) or `info` (no answer in time: unknown)
    nemesis      the faults (nemesis.py): fault_started / fault_stopped pairs, fault_failed, and the
                 run's phases (faults, recovery, final reads)
    event        every event of the stack's stream (services' decisions); an event the stream lost
                 (Redis was down and its writer gave up) but a container printed is added from the
                 container's log, marked `from_log`
    audit        dns-admin's audit: every batch it received, accepted (with its change id) or refused
    figures      the cascade's per-second lines (dnsrace:figures): the lease manager's `lease_window`
                 (leased fraction, queue, its head's age, goodput, ...) and the launcher's `launch_window`
    observation  the final reads: the endpoint's alias, the newest plan, docker's restart counts during
                 the run, the zone

Reading and writing are the only I/O here; `assemble`, `events_from_log` and `merge_events` are pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Row", "assemble", "events_from_log", "header", "link_latest", "merge_events", "read", "rows", "write"]

Row = dict[str, Any]
SOURCES = ("client", "nemesis", "event", "audit", "observation", "figures")


def assemble(run: Row, **by_source: Iterable[Row]) -> list[Row]:
    """The run's line first, then every row of every source tagged with it, by time (stable)."""
    unknown = set(by_source) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown history sources: {sorted(unknown)}")
    tagged = [{**row, "source": source} for source, items in by_source.items() for row in items]
    tagged.sort(key=lambda row: float(row.get("t") or 0.0))
    return [{**run, "source": "run"}, *tagged]


def header(history: Sequence[Row]) -> Row:
    if not history or history[0].get("source") != "run":
        raise ValueError("a history starts with its run line (source: run)")
    return history[0]


def rows(history: Iterable[Row], source: str) -> list[Row]:
    return [row for row in history if row.get("source") == source]


def events_from_log(text: str) -> list[Row]:
    """The event lines a service printed (one JSON object per line, as RedisEventSink echoes them)."""
    found = []
    for line in text.splitlines():
        start = line.find("{")     # `docker logs --timestamps` puts a time before the JSON
        if start < 0:
            continue
        try:
            obj = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(obj, dict) and {"t", "service", "kind"} <= obj.keys():
            found.append(obj)
    return found


def merge_events(stream: Sequence[Row], logged: Iterable[Row]) -> list[Row]:
    """The stream's events, plus the logged ones the stream does not hold (marked `from_log`).

    A batch is one event whatever its time: dns-admin reports a batch again at start when the stream lacks
    it (`recovered`, at the moment it was decided), and the copy it printed before the crash, if any, is
    the same batch, so `batch_accepted` is keyed by its change id."""
    def key(event: Row) -> tuple[Any, ...]:
        change_id = (event.get("detail") or {}).get("change_id")
        if event.get("kind") == "batch_accepted" and change_id:
            return (event.get("service"), "batch_accepted", change_id)
        return (event.get("service"), event.get("kind"), round(float(event.get("t") or 0), 6), event.get("plan"))
    seen = {key(event) for event in stream}
    added = []
    for event in logged:
        if key(event) not in seen:
            seen.add(key(event))
            added.append({**event, "seq": None, "from_log": True})
    return [*stream, *added]


def write(path: Path, history: Sequence[Row]) -> None:
    with open(path, "w") as out:
        for row in history:
            out.write(json.dumps(row, default=str, sort_keys=True) + "\n")


def link_latest(link: Path, folder: Path) -> None:
    """`link` (store/latest) made to point at the run folder just written, relative to where it sits."""
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(folder.relative_to(link.parent))


def read(path: Path) -> list[Row]:
    with open(path) as source:
        return [json.loads(line) for line in source if line.strip()]
