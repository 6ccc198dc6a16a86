"""The timeline: the event history as sentences a tired responder can read at 3 a.m.

    python3 -m dnsrace.timeline [--last N] [--json]

Each line: time since the first event shown, the service, one sentence, then the global seq.
Events are ordered by decision time (see events.py for why not by seq).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from .events import STREAM_DEFAULT, Event, read_events
from .records import escaped

__all__ = ["sentence", "render", "one_line", "main"]

SENTENCE_LENGTH_MAX = 1_000


def _d(event: Event, key: str, default: Any = "?") -> Any:
    return event.detail.get(key, default)


_SENTENCES: dict[str, Callable[[Event], str]] = {
    "planner_started": lambda e: f"started; watching {', '.join(_d(e, 'backends', []))} (tick {_d(e, 'tick_ms')} ms)",
    "backend_healthy": lambda e: f"saw {_d(e, 'backend')} ({_d(e, 'address')}) healthy, capacity {_d(e, 'capacity')}",
    "backend_unhealthy": lambda e: f"saw {_d(e, 'backend')} ({_d(e, 'address')}) UNHEALTHY: {_d(e, 'why')}",
    "planner_stopped": lambda e: "stopped",
    "plan_created": lambda e: f"published {e.plan} ({_d(e, 'reason')}): {', '.join(_d(e, 'targets', []))}",
    "plan_withheld": lambda e: f"published no plan: {_d(e, 'why')}",
    "plan_not_published": lambda e: f"could not publish a plan: {_d(e, 'error')}",
    "enactor_started": lambda e: f"started in {_d(e, 'mode')} mode (cleanup keeps {_d(e, 'keep_generations')} generations)",
    "enactor_stopped": lambda e: "stopped",
    "plan_rejected": lambda e: f"refused a malformed plan: {_d(e, 'error')}",
    "plan_skipped": lambda e: f"skipped {e.plan}: live is already {_d(e, 'live')}",
    "check_passed": lambda e: (f"checked {e.plan}: it is live but its record set is GONE; restoring it"
                               if _d(e, "restoring", False) else
                               f"checked {e.plan} is newer than live {_d(e, 'live') or '(none)'}"),
    "lock_acquired": lambda e: f"took the lock for {e.plan} (token {e.token}, attempt {_d(e, 'attempt')})",
    "lock_refused": lambda e: (f"lock busy for {e.plan} (held by {_d(e, 'held_by')}); "
                               f"retry {_d(e, 'attempt')} in {_d(e, 'retry_in_ms')} ms"),
    "lock_gave_up": lambda e: f"gave up on {e.plan}: lock busy {_d(e, 'attempts')} times",
    "lock_released": lambda e: f"released the lock (token {e.token})",
    "lock_expired_before_release": lambda e: f"found its lock (token {e.token}) EXPIRED when releasing it",
    "record_set_written": lambda e: f"wrote record set {_d(e, 'name')} ({', '.join(_d(e, 'addresses', []))})",
    "endpoint_pointed": lambda e: (f"pointed {_d(e, 'endpoint')} at {e.plan} (rollback -> {_d(e, 'rollback') or 'none'}), "
                                   f"{_d(e, 'change_id')}"),
    "cleanup_deleted": lambda e: f"cleanup deleted {e.plan} (more than {_d(e, 'keep_generations')} older than {_d(e, 'after')})",
    "apply_finished": lambda e: (f"finished {e.plan}" + (f", cleaned up {', '.join(_d(e, 'cleaned', []))}"
                                                        if _d(e, 'cleaned', []) else "")),
    "cleanup_already_gone": lambda e: f"cleanup found {e.plan} already gone",
    "cleanup_spared": lambda e: f"cleanup SPARED {e.plan} although it is old: {_d(e, 'why')}",
    "endpoint_unchanged": lambda e: f"left {_d(e, 'endpoint')} as it is: {_d(e, 'why')} ({e.plan})",
    "rollback_emptied": lambda e: f"left the rollback record EMPTY: {_d(e, 'why')}",
    "apply_failed": lambda e: (f"attempt on {e.plan or 'its pass'} FAILED ({_d(e, 'error')}); "
                               f"retry {_d(e, 'failures')} in {_d(e, 'retry_in_ms')} ms with fresh facts"),
    "write_refused": lambda e: (f"its write for {e.plan} was REFUSED by dns-admin, the zone having moved since "
                                f"its check ({_d(e, 'error')}); retry {_d(e, 'failures')} in {_d(e, 'retry_in_ms')} ms "
                                f"with fresh facts"),
    "apply_gave_up": lambda e: f"gave up on {e.plan} after {_d(e, 'failures')} failed attempts",
    "enactor_frozen": lambda e: f"ALARM: FROZE its writes: {_d(e, 'why')} (until {_d(e, 'until')})",
    "enactor_unfrozen": lambda e: f"thawed: the state is one it can reason about again (was: {_d(e, 'was')})",
    "endpoint_empty_found": lambda e: (f"self-check: {_d(e, 'endpoint')} answers EMPTY ({_d(e, 'rcode')}): "
                                       f"{_d(e, 'why')}; repairing with {_d(e, 'newest')}"),
    "self_check_answering": lambda e: f"self-check: {_d(e, 'endpoint')} answers again: {', '.join(_d(e, 'addresses', []))}",
    "enactor_crashed": lambda e: (f"CRASHED: {_d(e, 'exception')}: {_d(e, 'message')} "
                                  f"at {_d(e, 'protocol_at')} (raised at {_d(e, 'raised_at')})"),
    "batch_accepted": lambda e: (f"accepted {_d(e, 'change_id')} from {_d(e, 'client') or 'operator'}: "
                                 f"{'; '.join(_d(e, 'described', []))}"),
    "batch_rejected": lambda e: (f"REJECTED a batch from {_d(e, 'client') or 'operator'}: {_d(e, 'error')}: "
                                 f"{_d(e, 'message')}"),
    "batch_outcome_unknown": lambda e: (f"could not tell whether {_d(e, 'change_id')} from "
                                        f"{_d(e, 'client') or 'operator'} was committed: {_d(e, 'why')}"),
    "zone_rendered": lambda e: f"rendered the zone, serial {_d(e, 'serial')}",
    "fault_started": lambda e: (f"FAULT {_d(e, 'fault')} on {_d(e, 'target')}"
                                + (f" ({_d(e, 'proxy')})" if _d(e, "proxy", None) else "") + f": {_d(e, 'why')}"),
    "fault_stopped": lambda e: f"fault {_d(e, 'fault')} stopped: {_d(e, 'why')}",
    "operator_deleted": lambda e: f"an operator deletes {e.plan}'s record set ({_d(e, 'why')})",
    "operator_repair": lambda e: f"an operator repairs: endpoint -> {e.plan}, rollback record cleared",
    "clients_recovered": lambda e: (f"clients answered again {_d(e, 'broken_after_repair_s')} s after the repair "
                                    f"(authoritative after {_d(e, 'authoritative_after_s')} s)"),
}


def sentence(event: Event) -> str:
    """One line, always: whatever an event carries (a client's text, a server's error page), a newline
    or a control character in it is shown escaped, so no event can print a line that looks like another."""
    return one_line(_sentence(event))


def _sentence(event: Event) -> str:
    build = _SENTENCES.get(event.kind)
    if build is None:
        words = [event.kind, event.plan or "", *(f"{k}={v}" for k, v in sorted(event.detail.items()))]
        return " ".join(w for w in words if w)
    try:
        return build(event)
    except (TypeError, KeyError, ValueError):
        return f"{event.kind} {json.dumps(event.detail, default=str)}"


def one_line(text: str, length_max: int = SENTENCE_LENGTH_MAX) -> str:
    """`text` with every non-printable character escaped as Python writes it (\\n, \\x1b, \\u2028), cut."""
    line = escaped(text)
    return line if len(line) <= length_max else f"{line[:length_max - 3]}..."


def render(events: list[Event]) -> list[str]:
    if not events:
        return ["(no events yet)"]
    start = events[0].t
    return [f"+{e.t - start:9.3f}s  {one_line(e.service, 40):<10} {sentence(e)}"
            + (f"  #{e.seq}" if e.seq is not None else "") for e in events]


async def _load(redis_url: str, stream: str, count: int) -> list[Event]:
    redis = aioredis.from_url(redis_url, socket_timeout=5.0, socket_connect_timeout=5.0)
    try:
        return await read_events(redis, stream=stream, count=count)
    finally:
        await redis.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace.timeline", description=__doc__.splitlines()[0])
    parser.add_argument("--last", type=int, default=60, help="how many of the newest events (default 60)")
    parser.add_argument("--json", action="store_true", help="one JSON event per line instead of sentences")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--stream", default=os.environ.get("EVENTS_STREAM", STREAM_DEFAULT))
    args = parser.parse_args(argv)
    if not 1 <= args.last <= 100_000:
        parser.error("--last must be 1..100000")
    try:
        events = asyncio.run(_load(args.redis_url, args.stream, args.last))
    except (aioredis.RedisError, OSError, TimeoutError) as error:
        print(f"timeline: cannot read events from {args.redis_url}: {error}", file=sys.stderr)
        return 1
    for line in ([json.dumps(e.to_json(), default=str) for e in events] if args.json else render(events)):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
