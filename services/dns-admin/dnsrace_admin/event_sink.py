"""Where dns-admin reports its decisions, and its own log lines.

dns-admin depends only on the `EventSink` protocol; the Redis implementation lives in
`dnsrace.events` (shared by every service) and is chosen in __main__. `StdoutEventSink` is the
fallback when that module is unavailable, so the decisions are still written down somewhere.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Protocol


class EventSink(Protocol):
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        ...


class StdoutEventSink:
    """Prints one JSON object per event to stdout, in the shape of the shared event stream."""

    def __init__(self, *, service: str) -> None:
        self.service = service

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        event = {
            "t": time.time(),
            "service": self.service,
            "kind": kind,
            "plan": plan,
            "token": token,
            "detail": detail,
        }
        print(json.dumps(event, sort_keys=True, default=str), flush=True)


def log(kind: str, **detail: Any) -> None:
    """Log one decision or failure as a JSON line on stderr (an event dict, not prose)."""
    entry = {"t": time.time(), "service": "dns-admin", "kind": kind, **detail}
    print(json.dumps(entry, sort_keys=True, default=str), file=sys.stderr, flush=True)
