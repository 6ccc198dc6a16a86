"""The lease manager's state and every decision it makes, pure: a clock is passed in, nothing is awaited.

A droplet's lease is live while its expiry is in the future. Renewing it is a *spell*: it starts when
renewal falls due (R after the last success, or at once for a lapsed lease), holds one or more
*attempts*, and ends with the first attempt that succeeds before its deadline (enqueued + timeout).
The worker loop (dwfm.py) asks `next_attempt`, does the operation (lease_store.py) and reports it to
`finished`; a timer calls `tick`, which enqueues what fell due and what timed out. The policy
(lease_policy.py) decides admission, de-duplication, deadline drops and retries; this module only
keeps the books, so the legacy and safe managers are the same code with a different row.

Figures are windowed (`take_window`), never cumulative: goodput is attempts that finished before their
deadline in the last window, and what the history plots per second.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from dnsrace_ec2.lease_policy import (LeasePolicy, TokenBucket, admission_limit, admits, may_enqueue,
                                      retries_on_timeout, works_at_dequeue)

__all__ = ["Attempt", "LeaseBook", "LeaseParams", "Outcome", "Window"]


@dataclass(frozen=True)
class LeaseParams:
    droplets: int            # N
    workers: int             # c: operations in flight at once
    renew_s: float           # R: a live lease is renewed this long after its last success
    ttl_s: float             # T: a lease written now expires this long after
    timeout_s: float         # τ: an attempt's deadline, counted from when it was enqueued
    expected_op_s: float     # one operation's time, until one has been measured
    retry_refill_per_s: float = 5.0   # safe's retry budget: tokens a second with no success at all
    queue_max: int = 500_000          # the lab's memory guard for legacy's unbounded queue, not a design

    def __post_init__(self) -> None:
        if not (self.droplets > 0 and self.workers > 0 and 0 < self.timeout_s < self.renew_s < self.ttl_s):
            raise ValueError(f"lease parameters need N > 0, c > 0 and 0 < timeout < renew < ttl: {self}")


class Outcome(str, Enum):
    OK = "ok"                    # the conditional update was accepted
    CONFLICT = "conflict"        # refused: the lease's version had moved (ConditionalCheckFailed)
    DNS = "dns"                  # DynamoDB's name did not resolve (EndpointConnectionError: the empty answer)
    UNREACHABLE = "unreachable"  # the name resolved, but no connection (refused, reset)
    TIMEOUT = "timeout"          # no answer within the client's timeout
    ERROR = "error"              # anything else (the droplet's state check failed, a 5xx, ...)


@dataclass(frozen=True)
class Attempt:
    droplet: int
    spell: int
    number: int        # 1 for a spell's first attempt
    enqueued: float
    deadline: float


@dataclass
class Window:
    """What happened since the last `take_window`."""
    in_time: int = 0       # goodput: operations that succeeded before their deadline
    late: int = 0          # succeeded in DynamoDB, but after the deadline: wasted work
    worked: int = 0        # attempts taken from the queue and worked
    dropped: int = 0       # safe: attempts past their deadline, dropped at dequeue unworked
    refused: int = 0       # safe: ticks on which admission held due work back
    enqueued: int = 0
    timed_out: int = 0     # deadlines that passed with the spell still open
    overflow: int = 0      # legacy: attempts lost to the lab's memory guard
    failed: Counter[str] = field(default_factory=Counter)


class LeaseBook:
    def __init__(self, params: LeaseParams, policy: LeasePolicy, now: float,
                 leases: Mapping[int, float] | None = None) -> None:
        n = params.droplets
        self.params, self.policy = params, policy
        self.expiry = [0.0] * n
        self.spell = [0] * n
        self.attempts = [0] * n      # attempts made in the current spell
        self.outstanding = [0] * n   # attempts queued or in flight
        self.due = [math.inf] * n
        self._due_heap: list[tuple[float, int]] = []
        self._deadlines: list[tuple[float, int, int]] = []
        self.queue: deque[Attempt] = deque()
        self.mean_op_s = params.expected_op_s
        capacity = float(max(10, 4 * params.workers))
        self.bucket = TokenBucket(capacity, params.retry_refill_per_s, capacity, now)
        self.window = Window()
        self._next_live = 0
        known = leases or {}
        for i in range(n):
            expiry = known.get(i)
            if expiry is None:     # new capacity: brought in over one renewal period, not all at once
                self._schedule(i, now + i * params.renew_s / n)
            elif expiry <= now:    # a lapsed lease: re-established at once
                self._schedule(i, now)
            else:                  # a live lease (a restart): renewed when it would have been
                self.expiry[i] = expiry
                self._schedule(i, max(now, expiry - (params.ttl_s - params.renew_s)))

    # --- the queue ---------------------------------------------------------------------------------
    @property
    def limit(self) -> int:
        return admission_limit(self.params.workers, self.mean_op_s, self.params.timeout_s)

    def throttling(self) -> bool:
        """Safe's admission is refusing work now (the queue is full): launches are told to wait."""
        return not admits(self.policy, len(self.queue), self.limit)

    def tick(self, now: float) -> None:
        """Enqueue what timed out (legacy) and what fell due (both, as the policy admits)."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _deadline, i, spell = heapq.heappop(self._deadlines)
            if spell != self.spell[i]:
                continue                  # that spell ended in a success
            self.window.timed_out += 1
            if not retries_on_timeout(self.policy):
                continue
            if admits(self.policy, len(self.queue), self.limit):
                self._enqueue(i, now)     # beside the timed-out attempt, which is still queued
            else:                         # throttled: the retry waits its turn with the due droplets
                self.window.refused += 1
                self._schedule(i, now)
        while self._due_heap and self._due_heap[0][0] <= now:
            due, i = self._due_heap[0]
            if due != self.due[i] or not may_enqueue(self.policy, self.outstanding[i]):
                heapq.heappop(self._due_heap)
                if due == self.due[i]:
                    self.due[i] = math.inf   # rescheduled when its outstanding attempt finishes
                continue
            if not admits(self.policy, len(self.queue), self.limit):
                self.window.refused += 1
                break
            if self.policy.retry_budget and self.attempts[i] > 0 and not self.bucket.take(now):
                self.window.refused += 1
                break
            heapq.heappop(self._due_heap)
            self.due[i] = math.inf
            self._enqueue(i, now)

    def next_attempt(self, now: float) -> Attempt | None:
        """The next attempt to work, first in first out; what the policy drops is dropped here."""
        while self.queue:
            attempt = self.queue.popleft()
            if works_at_dequeue(self.policy, attempt.deadline, now):
                self.window.worked += 1
                return attempt
            self.window.dropped += 1
            self._closed_without_success(attempt, now)
        return None

    def finished(self, attempt: Attempt, now: float, outcome: Outcome, *, op_s: float, expiry: float) -> bool:
        """Book one worked attempt. True if it established the lease (in time, in its spell)."""
        i = attempt.droplet
        if outcome is Outcome.OK:
            self.mean_op_s += 0.05 * (op_s - self.mean_op_s)
            if attempt.spell == self.spell[i] and now <= attempt.deadline:
                self.outstanding[i] -= 1
                self.window.in_time += 1
                self.expiry[i] = expiry
                self.spell[i] += 1
                self.attempts[i] = 0
                self.bucket.refund(now)
                self._schedule(i, now + self.params.renew_s)
                return True
            self.window.late += 1
        else:
            self.window.failed[outcome.value] += 1
        self._closed_without_success(attempt, now)
        return False

    # --- what the launcher and the history read ----------------------------------------------------
    def leased(self, now: float) -> int:
        return sum(1 for e in self.expiry if e > now)

    def live_droplet(self, now: float) -> int | None:
        """A droplet with a live lease (round robin), or None: no capacity."""
        n = self.params.droplets
        for step in range(n):
            i = (self._next_live + step) % n
            if self.expiry[i] > now:
                self._next_live = i + 1
                return i
        return None

    def take_window(self, now: float, interval_s: float) -> dict[str, Any]:
        """This window's figures (then a new window): the lease manager's line in the history."""
        w, self.window = self.window, Window()
        leased = self.leased(now)
        failed = sum(w.failed.values())
        return {
            "droplets": self.params.droplets, "leased": leased,
            "new": sum(1 for e in self.expiry if e == 0.0),   # never leased yet: being brought in, not lost
            "leased_fraction": round(leased / self.params.droplets, 4),
            "queue": len(self.queue),
            "head_age_s": round(now - self.queue[0].enqueued, 3) if self.queue else 0.0,
            "goodput_per_s": round(w.in_time / interval_s, 2),
            "late_per_s": round(w.late / interval_s, 2),
            "worked_per_s": round(w.worked / interval_s, 2),
            "failed_per_s": round(failed / interval_s, 2), "failed": dict(w.failed),
            "dropped_per_s": round(w.dropped / interval_s, 2),
            "timed_out_per_s": round(w.timed_out / interval_s, 2),
            "attempts_per_success": round(w.worked / w.in_time, 2) if w.in_time else None,
            "admission_limit": self.limit if self.policy.admission else None,
            "throttling": self.throttling(), "refused": w.refused, "overflow": w.overflow,
            "retry_tokens": round(self.bucket.tokens, 1) if self.policy.retry_budget else None,
            "mean_op_ms": round(self.mean_op_s * 1000, 1),
        }

    # --- inside ------------------------------------------------------------------------------------
    def _schedule(self, i: int, at: float) -> None:
        self.due[i] = at
        heapq.heappush(self._due_heap, (at, i))

    def _enqueue(self, i: int, now: float) -> None:
        if len(self.queue) >= self.params.queue_max:
            self.window.overflow += 1
            return
        self.attempts[i] += 1
        self.outstanding[i] += 1
        attempt = Attempt(i, self.spell[i], self.attempts[i], now, now + self.params.timeout_s)
        self.queue.append(attempt)
        self.window.enqueued += 1
        if retries_on_timeout(self.policy):
            heapq.heappush(self._deadlines, (attempt.deadline, i, attempt.spell))

    def _closed_without_success(self, attempt: Attempt, now: float) -> None:
        i = attempt.droplet
        self.outstanding[i] = max(0, self.outstanding[i] - 1)
        # Legacy's next attempt comes from the deadline (tick); safe tries again when the budget allows.
        if not retries_on_timeout(self.policy) and attempt.spell == self.spell[i] and self.outstanding[i] == 0:
            self._schedule(i, now)
