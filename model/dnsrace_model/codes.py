"""The numbers the model uses for event kinds and dns-admin's errors, read from model/events.pml.

One list of names, in the model; Python reads it rather than keeping a second copy.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

__all__ = ["ERRORS", "EVENTS", "INFRA_EXCEPTIONS", "KIND_OF", "ERROR_OF", "NAMES", "REFUSALS"]

EVENTS_PML = Path(__file__).resolve().parents[1] / "events.pml"

# Names in the zone and change actions, as dnsrace.pml numbers them.
NAMES = {"endpoint": 1, "rollback": 2, "plan": 3}
ACTIONS = {"CREATE": 1, "DELETE": 2, "UPSERT": 3}


@cache
def _defines() -> dict[str, int]:
    found = {}
    for line in EVENTS_PML.read_text().splitlines():
        match = re.fullmatch(r"#define\s+(\w+)\s+(\d+)\s*", line)
        if match:
            found[match.group(1)] = int(match.group(2))
    return found


EVENTS: dict[str, int] = {k.removeprefix("EV_"): v for k, v in _defines().items() if k.startswith("EV_")}
ERRORS: dict[str, int] = {k: v for k, v in _defines().items() if not k.startswith("EV_") and k != "DNSRACE_EVENTS"}
KIND_OF: dict[int, str] = {v: k for k, v in EVENTS.items()}
ERROR_OF: dict[int, str] = {v: k for k, v in ERRORS.items()}
# dns-admin's refusals the model has (a crash on one of these is the model's own crash)
REFUSALS: dict[str, int] = {k: v for k, v in ERRORS.items() if k not in ("OK", "INFRA_ERROR")}
# What a call raises when it fails for a reason outside the protocol: no answer from dns-admin (a
# timeout, a reset or refused connection: the client's DnsAdminUnavailable), dns-admin asking to try
# again (Busy, StoreTimeout), Redis unreachable or restarting, a library's CancelledError with no
# shutdown under way (StrayCancellation, dnsrace.deadline). The model's INFRA_ERROR: the pass ends
# there (legacy: the process dies; safe: apply_failed, a backoff, fresh facts).
INFRA_EXCEPTIONS = frozenset({
    "DnsAdminUnavailable", "Busy", "StoreTimeout", "ConnectionError", "TimeoutError", "BusyLoadingError",
    "OSError", "ConnectionRefusedError", "ConnectionResetError", "BrokenPipeError", "StrayCancellation",
})
