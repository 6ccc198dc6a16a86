"""GET /api/status, assembled (pure): now, the one root alert (or the last one, resolved), the enactors.

`version` changes whenever anything a reader would see changes (a new event, another zone serial, another
answer, another alert), so the page's stream sends a status only when there is something new to show;
ages are computed by the reader from the timestamps.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from dnsrace.events import Event

from .alert import Alerting, root_alert
from .cascade import cascade_alert
from .network import graph, network_alert
from .now import Now
from .panels import enactor_rows

__all__ = ["assemble", "History"]


class History:
    """What the console holds of the event stream: the newest events, and how much that is."""

    def __init__(self, events: Sequence[Event], *, kept_max: int, unreadable: int = 0,
                 remembered: Mapping[str, Event] | None = None, error: str | None = None) -> None:
        self.events = events
        self.kept_max = kept_max
        self.unreadable = unreadable
        self.remembered = dict(remembered or {})
        self.error = error      # why the stream could not be read just now (the events are the last read)

    def to_json(self) -> dict[str, Any]:
        seqs = [e.seq for e in self.events if e.seq is not None]
        return {"kept": len(self.events), "kept_max": self.kept_max, "first_seq": min(seqs, default=None),
                "last_seq": max(seqs, default=None), "unreadable": self.unreadable, "error": self.error,
                "since": min((e.t for e in self.events), default=None)}


def assemble(history: History, now: Now, *, negative_ttl_s: float,
             figures: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Alerting]:
    alerting = root_alert(history.events, now, negative_ttl_s=negative_ttl_s)
    enactors = enactor_rows(history.events, now.t, history.remembered)
    modes = sorted({row.mode for row in enactors if row.mode})
    status: dict[str, Any] = {
        "t": now.t,
        "endpoint": now.endpoint,
        "now": {
            "resolver": now.resolver.to_json(),
            "authoritative": now.authoritative.to_json(),
            "resolver_summary": now.resolver.summary(),
            "authoritative_summary": now.authoritative.summary(),
            "endpoint": now.plan_json(now.endpoint_target),
            "rollback": now.plan_json(now.rollback_target),
            "newest_published": now.generation_json(now.newest_published),
            "newest_existing": now.generation_json(now.newest_existing),
            "serial": now.serial,
        },
        "alert": alerting.alert.to_json() if alerting.alert else None,
        "resolved": alerting.resolved.to_json() if alerting.resolved else None,
        "enactors": [row.to_json() for row in enactors],
        "modes": modes,
        "history": history.to_json(),
        # The second impact window (issue 23): EC2's lease manager, its own root alert, linked to the DNS one.
        "cascade": cascade_alert(figures, alerting, now.t),
    }
    # Act 2 (issue 24): the third root alert, linked to the lease manager's, and the dependency graph now.
    status["network"] = network_alert(figures, status["cascade"], now.t)
    status["graph"] = graph(figures, alerting, now.t) if figures else []
    seen = {key: status[key] for key in ("endpoint", "alert", "resolved", "enactors", "history", "cascade",
                                         "network", "graph")}
    seen["now"] = {key: value for key, value in status["now"].items()}
    status["version"] = hashlib.sha256(json.dumps(seen, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return status, alerting
