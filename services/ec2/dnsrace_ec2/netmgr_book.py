"""Network Manager's books (pure): the propagation queue, its admission, and the load balancer's fleet.

Every piece of network state to push is one item in one FIFO queue, worked at a finite rate by the
service (netmgr.py): a droplet whose lease the lease manager re-established after it lapsed (its
network configuration must be pushed again: the backlog act 1's recovery creates), and each newly
launched instance (it has no connectivity until its item is worked).

    LEGACY  no admission: every launch is started at once, with or without its networking, and takes its
            slot at once (the old instance ends: break before make)
    SAFE    AWS's commitment, throttling by queue size: while the queue holds QUEUE_LIMIT items or more a
            launch is told to wait (429) rather than started without networking; droplets' state is
            always taken (it is owed to hosts already running). A new instance takes its slot only once
            its networking is worked; the old one serves until then (make before break)

The fleet is the load balancer's targets: SLOTS instances spread over AZS. An instance lives
LIFETIME_S (staggered), then the next launched instance replaces it (the old one ends); until the new
one's item is worked it answers nothing (legacy). A launch with no slot due is another customer's
instance: queued the same, in no slot. The operator's replacement (`replace`) is immediate in both.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["LEGACY", "POLICIES", "SAFE", "Fleet", "Item", "NetmgrPolicy", "Slot", "admits_launch"]


@dataclass(frozen=True)
class NetmgrPolicy:
    name: str
    admission: bool             # launches refused (told to wait) while the queue is longer than its limit
    make_before_break: bool     # a new instance takes its slot once networked; the old one serves until then


LEGACY = NetmgrPolicy("legacy", admission=False, make_before_break=False)
SAFE = NetmgrPolicy("safe", admission=True, make_before_break=True)
POLICIES = {p.name: p for p in (LEGACY, SAFE)}


def admits_launch(policy: NetmgrPolicy, queue_length: int, limit: int) -> bool:
    """May a launch start now? Legacy always; safe only while the queue is shorter than its limit."""
    return not policy.admission or queue_length < limit


@dataclass(frozen=True)
class Item:
    kind: str          # "droplet" | "instance"
    name: str          # droplet-000123 | i-000045
    enqueued: float


@dataclass
class Slot:
    index: int
    az: str
    instance: str
    networked: bool
    since: float       # when this instance took the slot
    due: float         # when it is to be replaced
    networked_at: float | None = None   # when its networking was worked (the boot instances: at start)
    pending: str | None = None          # make before break: the instance that takes the slot once networked

    @property
    def target(self) -> str:
        return f"s{self.index + 1:02d}"


@dataclass
class Fleet:
    slots: list[Slot]
    lifetime_s: float
    queue: deque[Item] = field(default_factory=deque)
    launched: int = 0
    make_before_break: bool = False

    @classmethod
    def start(cls, slots: int, azs: tuple[str, ...], lifetime_s: float, now: float,
              make_before_break: bool = False) -> Fleet:
        """SLOTS running instances, networked, their replacements staggered over one lifetime."""
        return cls([Slot(k, azs[k % len(azs)], f"i-boot{k + 1:02d}", True, now, now + lifetime_s * (k + 1) / slots,
                         networked_at=now) for k in range(slots)], lifetime_s, make_before_break=make_before_break)

    def enqueue_droplets(self, droplets: list[int], now: float) -> None:
        self.queue.extend(Item("droplet", f"droplet-{d:06d}", now) for d in droplets)

    def launch(self, now: float) -> tuple[str, Slot | None]:
        """A started launch: a new instance, queued for its networking, in the most overdue slot if one is
        due, else in none. The slot's old instance ends at once, or (make before break) once the new one is
        networked."""
        due = [s for s in self.slots if s.due <= now and s.pending is None]
        slot = min(due, key=lambda s: (s.due, s.index)) if due else None
        return self._start(now, slot, at_once=not self.make_before_break), slot

    def replace(self, target: str, now: float) -> tuple[str, Slot]:
        """The operator's replacement of one slot's instance now, whatever its age (KeyError: no such slot)."""
        slot = next((s for s in self.slots if s.target == target), None)
        if slot is None:
            raise KeyError(target)
        return self._start(now, slot, at_once=True), slot

    def _start(self, now: float, slot: Slot | None, at_once: bool) -> str:
        self.launched += 1
        instance = f"i-{self.launched:06d}"
        self.queue.append(Item("instance", instance, now))
        if slot is not None and at_once:
            slot.instance, slot.networked, slot.since, slot.due = instance, False, now, now + self.lifetime_s
            slot.networked_at, slot.pending = None, None
        elif slot is not None:
            slot.pending, slot.due = instance, now + self.lifetime_s
        return instance

    def work_one(self, now: float) -> tuple[Item, Slot | None] | None:
        """The queue's head propagated: an instance in a slot gets its networking."""
        if not self.queue:
            return None
        item = self.queue.popleft()
        for slot in self.slots:
            if item.kind == "instance" and slot.pending == item.name:   # made before the old one breaks
                slot.instance, slot.pending, slot.since = item.name, None, now
                slot.networked, slot.networked_at = True, now
                return item, slot
            if item.kind == "instance" and slot.instance == item.name:
                slot.networked, slot.networked_at = True, now
                return item, slot
        return item, None

    def head_age(self, now: float) -> float:
        return now - self.queue[0].enqueued if self.queue else 0.0
