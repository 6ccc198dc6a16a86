"""The network load balancer's two health-check designs, side by side (NLB_MODE=legacy|safe).

    LEGACY  as AWS's summary describes the NLBs on 20 October 2025: a target that fails its checks is
            taken out, an Availability Zone where half the targets fail is failed over whole (its DNS
            answers withdrawn, healthy targets with it), and the checks share one pool of checkers
            whose demand grows with the failures: a failing target is checked again at once, and a
            check's deadline runs from when it was scheduled, so checks queued behind unanswering
            targets time out too, and healthy targets flap.
    SAFE    what AWS committed to ("a velocity control mechanism to limit the capacity a single NLB can
            remove when health check failures cause AZ failover") and what real balancers document:
            at most MAX_REMOVED_SHARE of the targets taken out per VELOCITY_WINDOW_S (Envoy's
            max_ejection_percent, Kubernetes' eviction rate) and never below a floor of
            1 - FAIL_OPEN_SHARE of them in service, fail open when more than FAIL_OPEN_SHARE
            look unhealthy at once (an NLB fails open when every target fails; Route 53 treats all
            records healthy when none is; Envoy's panic threshold), and bounded checking: one check per
            target per interval, each on its own checker, its deadline from its start. No whole-AZ
            failover on health checks: each target is judged on its own answers (what AWS's operators
            did at 9:36 AM, disabling automatic failover; measured here, an AZ failed over under the
            floor kept unanswering targets in service and took answering ones out).

Each difference is one field, so `diff` of the two rows is the whole design change. The functions below
are the only places the fields are read (nlb.py calls them); each is unit-tested and broken once in
tests/mutate_protections.py. Everything here is pure: times and results come in, decisions go out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["LEGACY", "POLICIES", "SAFE", "Decision", "NlbPolicy", "Target", "TargetHealth", "checks_due",
           "decide", "deadline_of", "fail_open", "failed_over_azs", "floor_of", "observe", "removal_allowance"]

UNHEALTHY_AFTER = 2     # consecutive failed checks before a target is unhealthy (an NLB's default threshold)
HEALTHY_AFTER = 2       # consecutive passed checks before it is healthy again


@dataclass(frozen=True)
class NlbPolicy:
    name: str
    az_failover: bool                 # an AZ where AZ_FAILOVER_SHARE of the targets are unhealthy leaves whole
    recheck_failing: bool             # a target whose last check failed is checked again on every tick
    deadline_from_schedule: bool      # a check's deadline runs from when it was scheduled (queueing counts)
    shared_checkers: bool             # the checks wait for one pool of HC_WORKERS checkers (else one per target)
    max_removed_share: float | None   # velocity control: the share of targets removable per window (None: any)
    fail_open_share: float | None     # more than this share unhealthy at once: every target stays in (None: never)


AZ_FAILOVER_SHARE = 0.5
VELOCITY_WINDOW_S = 10.0

LEGACY = NlbPolicy("legacy", az_failover=True, recheck_failing=True, deadline_from_schedule=True,
                   shared_checkers=True, max_removed_share=None, fail_open_share=None)
SAFE = NlbPolicy("safe", az_failover=False, recheck_failing=False, deadline_from_schedule=False,
                 shared_checkers=False, max_removed_share=0.25, fail_open_share=0.5)
POLICIES = {p.name: p for p in (LEGACY, SAFE)}


@dataclass(frozen=True)
class Target:
    name: str          # HAProxy's server name (s01 ...)
    az: str            # its Availability Zone (a, b, c)


@dataclass
class TargetHealth:
    """One target's health as the checks see it: consecutive results, and the verdict they give."""
    healthy: bool = True
    fails: int = 0
    passes: int = 0
    last_passed: bool = True


def observe(health: TargetHealth, passed: bool) -> TargetHealth:
    """One check's result: UNHEALTHY_AFTER failures in a row make a target unhealthy, HEALTHY_AFTER passes
    in a row healthy again."""
    fails = 0 if passed else health.fails + 1
    passes = health.passes + 1 if passed else 0
    healthy = health.healthy
    if healthy and fails >= UNHEALTHY_AFTER:
        healthy = False
    elif not healthy and passes >= HEALTHY_AFTER:
        healthy = True
    return TargetHealth(healthy=healthy, fails=fails, passes=passes, last_passed=passed)


def checks_due(policy: NlbPolicy, health: dict[str, TargetHealth], in_flight: Iterable[str],
               interval_due: bool) -> list[str]:
    """Which targets get a check scheduled on this tick. On the interval every target does; between
    intervals legacy checks again every target whose last check failed (demand grows with failures).
    Safe never has two checks of one target in flight; legacy schedules regardless."""
    busy = set(in_flight)
    due = [name for name, h in sorted(health.items()) if interval_due or (policy.recheck_failing and not h.last_passed)]
    if policy.shared_checkers:
        return due
    return [name for name in due if name not in busy]


def deadline_of(policy: NlbPolicy, scheduled: float, started: float, timeout_s: float) -> float:
    """When a check gives up: legacy counts from its scheduling (time queued for a checker counts against
    it), safe from its start (a check is judged on the target's answer alone)."""
    return (scheduled if policy.deadline_from_schedule else started) + timeout_s


def failed_over_azs(policy: NlbPolicy, targets: Sequence[Target], health: dict[str, TargetHealth]) -> list[str]:
    """The AZs failed over whole: those where at least AZ_FAILOVER_SHARE of the targets are unhealthy."""
    if not policy.az_failover:
        return []
    out = []
    for az in sorted({t.az for t in targets}):
        members = [t for t in targets if t.az == az]
        unhealthy = sum(1 for t in members if not health[t.name].healthy)
        if members and unhealthy / len(members) >= AZ_FAILOVER_SHARE:
            out.append(az)
    return out


def fail_open(policy: NlbPolicy, unhealthy: int, total: int) -> bool:
    """Too many targets look unhealthy at once to believe the checks: every target stays in service."""
    return policy.fail_open_share is not None and total > 0 and unhealthy / total > policy.fail_open_share


def floor_of(policy: NlbPolicy, total: int) -> int:
    """The fewest targets a policy keeps in service: what failing open protects (legacy: none)."""
    if policy.fail_open_share is None:
        return 0
    return math.ceil((1.0 - policy.fail_open_share) * total)


def removal_allowance(policy: NlbPolicy, total: int, in_service: int, removed_at: Sequence[float],
                      now: float) -> int | None:
    """How many more targets may leave service now (None: no cap): MAX_REMOVED_SHARE of the targets,
    at least one, per VELOCITY_WINDOW_S, less those removed within the window, and never so many that
    fewer than the floor stay in service."""
    if policy.max_removed_share is None:
        return None
    cap = max(1, math.floor(policy.max_removed_share * total))
    recent = sum(1 for t in removed_at if now - t < VELOCITY_WINDOW_S)
    return max(0, min(cap - recent, in_service - floor_of(policy, total)))


@dataclass(frozen=True)
class Decision:
    remove: tuple[str, ...]                     # to take out of service now
    restore: tuple[str, ...]                    # to put back into service now
    failed_azs: tuple[str, ...] = ()            # AZs failed over whole
    fail_open: bool = False                     # the checks were not believed: every target in service
    held_back: tuple[str, ...] = field(default=())  # removals the velocity cap deferred


def decide(policy: NlbPolicy, targets: Sequence[Target], health: dict[str, TargetHealth], in_service: set[str],
           removed_at: Sequence[float], now: float) -> Decision:
    """Which targets leave service and which come back, given each target's health. Unhealthy targets,
    and every target of a failed-over AZ, are wanted out; the others are wanted in. Safe fails open when
    too many are unhealthy, and takes out no more than the velocity cap allows (unhealthy ones first)."""
    unhealthy = [t.name for t in targets if not health[t.name].healthy]
    if fail_open(policy, len(unhealthy), len(targets)):
        restore = tuple(t.name for t in targets if t.name not in in_service)
        return Decision(remove=(), restore=restore, fail_open=True)
    azs = failed_over_azs(policy, targets, health)
    wanted_out = set(unhealthy) | {t.name for t in targets if t.az in azs}
    removals = sorted((n for n in wanted_out if n in in_service), key=lambda n: (n not in unhealthy, n))
    allowance = removal_allowance(policy, len(targets), len(in_service), removed_at, now)
    held: list[str] = []
    if allowance is not None and len(removals) > allowance:
        removals, held = removals[:allowance], removals[allowance:]
    restore = tuple(t.name for t in targets if t.name not in wanted_out and t.name not in in_service)
    return Decision(remove=tuple(removals), restore=restore, failed_azs=tuple(azs), held_back=tuple(held))

