"""The Redis keys the services share, in one place: the event stream, the plan store, the locks.

The planner and the enactors write them (events.py, plan_store.py), dns-admin's console and the lab
read them; every reader imports them from here rather than typing them again.
"""

from __future__ import annotations

__all__ = ["DWFM_THROTTLE", "EVENTS_STREAM", "EVENTS_SEQ", "FIGURES_STREAM", "PLANS_GENERATION", "PLANS_LATEST", "fence_key", "lock_key", "plan_key"]

EVENTS_STREAM = "dnsrace:events"          # the history: one entry per decision (events.py)
EVENTS_SEQ = f"{EVENTS_STREAM}:seq"       # its gap-free sequence counter
# Figures, not decisions: the lease manager's and the launcher's per-second lines (goodput, queue, leased
# fraction, launches), kept out of the decision stream so the timeline stays sentences.
FIGURES_STREAM = "dnsrace:figures"
# The operator's throttle on the lease manager (what AWS did at 4:14 AM): while this key exists, dwfm
# admits work by queue size whatever its design; it survives a restart of dwfm (it is read at start).
DWFM_THROTTLE = "dnsrace:dwfm:throttle"
PLANS_GENERATION = "dnsrace:plans:generation"   # the counter a new plan's generation is taken from
PLANS_LATEST = "dnsrace:plans:latest"           # the newest published generation


def plan_key(generation: int | str) -> str:
    """Where plan `generation` is stored, as JSON."""
    return f"dnsrace:plan:{generation}"


def lock_key(endpoint: str) -> str:
    """The endpoint's lock: its holder and token while held (lock.py)."""
    return f"dnsrace:lock:{endpoint}"


def fence_key(endpoint: str) -> str:
    """The endpoint lock's fencing counter, which only grows."""
    return f"{lock_key(endpoint)}:fence"
