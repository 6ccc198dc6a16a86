"""The checker: pure functions over a recorded history. No I/O; each is unit-tested on hand-written histories.

    empty_windows(history, process)        when the endpoint answered empty, as runs of `fail` probes
    endpoint_moves(audit, endpoint)        every accepted batch that changed what the endpoint aliases,
                                           replayed from dns-admin's audit (not from the enactors' events)
    backward_moves(moves)                  the moves to an older generation than the one before
    count_rate(history, process)           probes per second actually made (the client's promise)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dnsrace.plans import generation_of_record_name

__all__ = ["EmptyWindow", "Move", "backward_moves", "count_rate", "empty_windows", "endpoint_moves"]


@dataclass(frozen=True)
class EmptyWindow:
    process: str
    start: float      # the first empty answer
    end: float        # the first answer with addresses after it (or the last empty one, if none came)
    probes: int       # how many empty answers
    closed: bool      # an answer with addresses came after it

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Move:
    t: float
    change_id: str
    client: str
    before: int | None    # generation aliased before the batch (None: no alias, or not a plan)
    after: int | None

    @property
    def backwards(self) -> bool:
        return self.before is not None and self.after is not None and self.after < self.before


def empty_windows(history: Iterable[dict[str, Any]], process: str) -> list[EmptyWindow]:
    """Runs of `fail` completions (certainly empty) of one process; `info` neither opens nor closes one."""
    windows: list[EmptyWindow] = []
    start = last = None
    count = 0
    for op in history:
        if op.get("process") != process or op.get("type") not in ("ok", "fail"):
            continue
        if op["type"] == "fail":
            start = op["t"] if start is None else start
            last, count = op["t"], count + 1
        elif start is not None:
            windows.append(EmptyWindow(process, start, op["t"], count, True))
            start, count = None, 0
    if start is not None and last is not None:
        windows.append(EmptyWindow(process, start, last, count, False))
    return windows


def endpoint_moves(audit: Sequence[dict[str, Any]], endpoint: str) -> list[Move]:
    """Replay the accepted batches in order; one Move per batch that left the endpoint aliasing another name."""
    moves: list[Move] = []
    target: str | None = None
    for entry in sorted((e for e in audit if e.get("outcome") == "accepted"), key=lambda e: e.get("seq") or 0):
        before = target
        for change in (entry.get("batch") or {}).get("changes", []):
            record_set = change.get("record_set") or {}
            if record_set.get("name") != endpoint or record_set.get("type") != "ALIAS":
                continue
            target = None if change.get("action") == "DELETE" else record_set.get("target")
        if target != before:
            moves.append(Move(float(entry["t"]), str(entry.get("change_id")), str(entry.get("client") or ""),
                              _generation(before, endpoint), _generation(target, endpoint)))
    return moves


def backward_moves(moves: Iterable[Move]) -> list[Move]:
    return [move for move in moves if move.backwards]


def count_rate(history: Sequence[dict[str, Any]], process: str) -> float:
    times = [op["t"] for op in history if op.get("process") == process and op.get("type") == "invoke"]
    if len(times) < 2 or times[-1] <= times[0]:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def _generation(target: str | None, endpoint: str) -> int | None:
    return generation_of_record_name(target, endpoint) if target else None
