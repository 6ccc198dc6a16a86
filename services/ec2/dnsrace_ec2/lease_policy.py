"""The lease manager's two designs, side by side: what legacy does, what safe does instead.

    LEGACY  as AWS's summary describes DWFM on 20 October 2025: one FIFO queue, no admission, work that
            timed out is still worked when its turn comes, and every timeout enqueues another attempt.
    SAFE    what AWS committed to and what the literature measures: work refused while the queue is
            longer than what can finish within the timeout (admission by queue size), at most one
            attempt per droplet queued or in flight, work already past its deadline dropped at dequeue
            (never worked), and retries paid from a budget that only successes refill.

Each difference is one field, so `diff` of the two rows is the whole design change; the functions below
are the only places the fields are read (lease_book.py calls them), and each is unit-tested and broken
once in tests/mutate_protections.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["LEGACY", "POLICIES", "SAFE", "LeasePolicy", "TokenBucket", "admits", "admission_limit", "throttled",
           "may_enqueue", "retries_on_timeout", "works_at_dequeue"]


@dataclass(frozen=True)
class LeasePolicy:
    name: str
    admission: bool         # refuse new work while the queue holds more than can finish within the timeout
    one_outstanding: bool   # at most one attempt per droplet queued or in flight
    drop_expired: bool      # an attempt already past its deadline is dropped at dequeue, not worked
    retry_on_timeout: bool  # an attempt whose deadline passes without a success enqueues another at once
    retry_budget: bool      # a retry (attempt 2+ of a spell) costs a token; successes refill the bucket


LEGACY = LeasePolicy("legacy", admission=False, one_outstanding=False, drop_expired=False,
                     retry_on_timeout=True, retry_budget=False)
SAFE = LeasePolicy("safe", admission=True, one_outstanding=True, drop_expired=True,
                   retry_on_timeout=False, retry_budget=True)
POLICIES = {p.name: p for p in (LEGACY, SAFE)}


def throttled(policy: LeasePolicy) -> LeasePolicy:
    """The operator's mitigation on a running design (AWS at 4:14 AM: "throttled incoming work"): admission
    by queue size, and nothing else of safe's."""
    if policy.admission:
        return policy
    return replace(policy, name=f"{policy.name}+throttle", admission=True)


# A queue that holds exactly one timeout's worth of work finishes its last attempt exactly at its deadline:
# any jitter makes it late. Admission keeps the queue to half of that, so what is admitted finishes in time.
ADMISSION_SHARE = 0.5


def admission_limit(workers: int, mean_op_s: float, timeout_s: float) -> int:
    """How many queued attempts can finish well within the timeout: half of timeout × throughput (Little's
    law), throughput being workers / mean operation time; never below one attempt per worker."""
    return max(workers, int(ADMISSION_SHARE * timeout_s * workers / max(mean_op_s, 1e-3)))


def admits(policy: LeasePolicy, queue_length: int, limit: int) -> bool:
    """May a new attempt join the queue? Legacy takes everything; safe refuses once the queue is full."""
    return not policy.admission or queue_length < limit


def may_enqueue(policy: LeasePolicy, outstanding: int) -> bool:
    """May this droplet have another attempt while `outstanding` of its attempts are queued or in flight?"""
    return not policy.one_outstanding or outstanding == 0


def works_at_dequeue(policy: LeasePolicy, deadline: float, now: float) -> bool:
    """Is an attempt taken from the queue worked? Legacy works it even when its deadline has passed
    (the work is wasted: its result comes too late to count); safe drops it unworked."""
    return not policy.drop_expired or now <= deadline


def retries_on_timeout(policy: LeasePolicy) -> bool:
    """Does a passed deadline enqueue another attempt at once (beside the old one, still queued)?"""
    return policy.retry_on_timeout


@dataclass
class TokenBucket:
    """A retry budget: a retry takes a token; a success gives one back; a slow trickle refills it.

    The shape of botocore's standard retry quota (retries cost, successes refund), with a small refill
    rate so that a fleet that has never succeeded since the fault can still try, slowly."""

    capacity: float
    refill_per_s: float
    tokens: float
    updated: float

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_s)
            self.updated = now

    def take(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def refund(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.capacity, self.tokens + 1.0)
