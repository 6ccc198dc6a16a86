"""The generator: a seeded fault schedule for one chaos run. Pure: no I/O, no clock, no global random.

    generate(seed, parameters) -> Schedule      the same seed and parameters give the same schedule

A schedule is a list of faults, each a named start/stop pair aimed at one target, placed in a fault
phase of `fault_phase_s` seconds: `at_s` after the phase starts it begins, `for_s` later it stops.
Faults are drawn from a weighted list (WEIGHTS), Vortex-style; what each one does is the nemesis's
business (harness/nemesis.py), when it happens is the interpreter's (campaign.py). Two rules keep a schedule
meaningful: at most `concurrency_max` faults at a time, and never two at once on the same target
(a paused enactor cannot also be killed, a partitioned one cannot also have a toxic on its proxies).

    fault              target            what the nemesis does, and the parameters drawn here
    latency            enactor + path    a latency toxic with jitter on one of its proxies (latency_ms, jitter_ms);
                                         on the DNS path, near the self-check's deadline (see _near_deadline)
    timeout            enactor + path    a `timeout` toxic: data stops, the connection closes after timeout_ms
    reset-peer         enactor + path    a `reset_peer` toxic: connections reset (TCP RST) after timeout_ms
    hold               enactor + path    its requests wait inside Toxiproxy until the stop (the scenarios' hold)
    partition          enactor           every proxy of the enactor disabled: connections cut and refused
    pause              enactor           `docker pause` past the lock's TTL; while_locked: once it passes a
                                         check, its dns-admin path is slowed until it takes the lock, then frozen
    kill-enactor       enactor           SIGKILL, then `docker start` at the stop
    kill-redis         redis             SIGKILL, then `docker start` at the stop
    kill-dns-admin     dns-admin         SIGKILL, then `docker start`; mid_batch: killed the moment it has
                                         committed a batch of `via`'s, whose answer is held in via's proxy
    delete-live-plan   dns-admin         the live plan's record set deleted through the API (an operator's
                                         mistake); over at once: what repairs it is up to the enactors

With `cascade` (make chaos CASCADE=1) one more fault, the lease manager's (issue 23):
    partition-dynamodb dynamodb          the storage node's proxy disabled: every lease operation fails, as
                                         when DynamoDB's name answered empty; 1.5-2.5 lease TTLs (a lease
                                         renewed just before the cut lapses one TTL into it, so every lease
                                         has lapsed for at least half a TTL when the node is back), starting
                                         in the phase's first half. Drawn after every other fault, so a
                                         seed's other faults are the same, at the same times, with and
                                         without it (their numbers may shift), and outside the concurrency
                                         rule: it is the lease manager's path, not the DNS automation's.
                                         Checker (7) judges from the later of its stop and the resolver
                                         answering again; (1)-(6) leave it out.
    propagation-storm  netmgr            act 2's (issue 24): network state owed for droplets, posted to
                                         Network Manager at STORM_TIMES_RATE times the rate it works them
                                         (its netmgr_started rate), for STORM_S seconds: the backlog a
                                         fleet leased again all at once leaves (in the incident, DWFM's
                                         recovery), still (times - 1) * for_s seconds of work when the storm
                                         stops. Drawn after the storage cut, so the cut does not move either,
                                         starting in the phase's first half; outside the concurrency rule.
                                         Checkers (8) and (9) judge the load balancer and the clients; (9)
                                         from the later of DNS back and the storm's stop.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dnsrace_lab.stack.names import ENACTORS

__all__ = ["CASCADE_FAULT", "ENACTORS", "FAULTS", "PATHS", "STORM_FAULT", "WEIGHTS", "FaultSpec", "Parameters", "Schedule", "generate"]

PATHS = ("redis", "dns-admin", "dns")          # each enactor's three proxies: enactor-a-redis, ...
HOLD_PATHS = ("redis", "dns-admin")            # a held DNS self-check only times out: no different from timeout

# How often each fault is drawn, relative to the others. Network faults dominate, as in production;
# process faults and the operator's mistake are rarer but always possible.
WEIGHTS: dict[str, int] = {
    "latency": 4, "timeout": 2, "reset-peer": 2, "hold": 3, "partition": 2, "pause": 3,
    "kill-enactor": 2, "kill-redis": 1, "kill-dns-admin": 2, "delete-live-plan": 1,
}
FAULTS = tuple(WEIGHTS)
CASCADE_FAULT = "partition-dynamodb"   # the checker's verdict.STORAGE_CUT
CASCADE_TTLS = (1.5, 2.5)              # its length, in lease TTLs
STORM_FAULT = "propagation-storm"      # the checker's verdict.PROPAGATION_STORM
STORM_TIMES_RATE = (3.0, 4.0)          # droplets posted a second, in multiples of Network Manager's rate
STORM_S = (40.0, 60.0)                 # how long it posts: (times - 1) * 40..60 s of work left when it stops
PLACEMENT_ATTEMPTS_MAX = 50   # a fault that finds no room in the phase after this many draws is left out


@dataclass(frozen=True)
class Parameters:
    """Everything a run depends on besides the seed; written on the first line of every run's log."""

    mode: str = "safe"
    fault_phase_s: float = 24.0       # faults start and stop within this many seconds
    faults_min: int = 3
    faults_max: int = 6
    concurrency_max: int = 2
    lock_ttl_s: float = 5.0           # the enactors' LOCK_TTL_MS: a pause lasts longer than this
    keep_generations: int = 5         # K: a hold can last long enough to fall K plans behind
    plan_tick_s: float = 2.0
    converge_bound_s: float = 15.0    # after the last fault stops, the endpoint reaches the newest plan within
    negative_ttl_s: float = 15.0      # the SOA TTL: how long the resolver may keep serving an empty answer
    repair_bound_s: float = 10.0      # after the live plan is deleted, the authoritative view answers within
    answer_slack_s: float = 2.0       # CoreDNS's 1 s reload plus the 1 s a positive answer stays cached
    probe_rate_hz: float = 20.0
    self_check_timeout_ms: int = 2_000  # the enactors' SELF_CHECK_TIMEOUT_MS: DNS-path latency is drawn around it
    cascade: bool = False             # the lease manager as a target too (CASCADE_FAULT) and (7) judged
    lease_ttl_s: float = 45.0         # dwfm's lease TTL (its dwfm_started event): the storage cut outlasts it
    lease_recovery_bound_s: float | None = None   # (7)'s bound; set with cascade (None: (7) not judged)
    propagate_per_s: float = 20.0     # Network Manager's rate (its netmgr_started event): the storm is drawn in it
    client_recovery_bound_s: float | None = None  # (9)'s bound; set with cascade (None: (8), (9) not judged)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Parameters:
        known = {name: obj[name] for name in cls.__dataclass_fields__ if name in obj}
        return cls(**known)


@dataclass(frozen=True)
class FaultSpec:
    id: int
    fault: str
    target: str
    at_s: float
    for_s: float
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def until_s(self) -> float:
        return self.at_s + self.for_s

    def label(self) -> str:
        where = self.params.get("path")
        return f"{self.fault} {self.target}" + (f"->{where}" if where else "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FaultSpec:
        return cls(int(obj["id"]), str(obj["fault"]), str(obj["target"]), float(obj["at_s"]), float(obj["for_s"]),
                   dict(obj.get("params") or {}))


@dataclass(frozen=True)
class Schedule:
    seed: int
    parameters: Parameters
    faults: tuple[FaultSpec, ...]

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "parameters": self.parameters.to_json(),
                "faults": [fault.to_json() for fault in self.faults]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Schedule:
        return cls(int(obj["seed"]), Parameters.from_json(obj["parameters"]),
                   tuple(FaultSpec.from_json(f) for f in obj.get("faults") or []))

    def first_line(self) -> str:
        """The seed and every parameter, and the faults they gave: enough to replay the run."""
        return json.dumps({"chaos_run": self.to_json()}, sort_keys=True)


def generate(seed: int, parameters: Parameters) -> Schedule:
    if parameters.faults_min < 0 or parameters.faults_max < parameters.faults_min:
        raise ValueError("faults_min must be 0..faults_max")
    if parameters.concurrency_max < 1 or parameters.fault_phase_s <= 0:
        raise ValueError("concurrency_max must be at least 1 and fault_phase_s positive")
    if parameters.cascade and (parameters.lease_ttl_s <= 0 or parameters.lease_recovery_bound_s is None
                               or parameters.client_recovery_bound_s is None or parameters.propagate_per_s <= 0):
        raise ValueError("a cascade schedule needs the lease TTL, (7)'s and (9)'s bounds and Network Manager's rate")
    rng = random.Random(seed)   # the only source of randomness: same seed, same schedule
    placed: list[FaultSpec] = []
    for _ in range(rng.randint(parameters.faults_min, parameters.faults_max)):
        fault = rng.choices(FAULTS, weights=[WEIGHTS[f] for f in FAULTS])[0]
        spec = _draw(rng, fault, parameters)
        for _attempt in range(PLACEMENT_ATTEMPTS_MAX):
            latest_start = max(0.0, parameters.fault_phase_s - spec.for_s)
            candidate = replace(spec, at_s=round(rng.uniform(0.0, latest_start), 2))
            if _fits(candidate, placed, parameters.concurrency_max):
                placed.append(candidate)
                break
    if parameters.cascade:   # after every other draw: the seed's other faults do not move
        for_s = _seconds(rng, CASCADE_TTLS[0] * parameters.lease_ttl_s, CASCADE_TTLS[1] * parameters.lease_ttl_s)
        placed.append(FaultSpec(0, CASCADE_FAULT, "dynamodb", _seconds(rng, 0.0, parameters.fault_phase_s / 2), for_s))
        times = round(rng.uniform(*STORM_TIMES_RATE), 2)
        placed.append(FaultSpec(0, STORM_FAULT, "netmgr", _seconds(rng, 0.0, parameters.fault_phase_s / 2),
                                _seconds(rng, *STORM_S),
                                {"droplets_per_s": max(1, round(times * parameters.propagate_per_s)),
                                 "times_rate": times, "propagate_per_s": parameters.propagate_per_s}))
    ordered = sorted(placed, key=lambda f: (f.at_s, f.fault, f.target))
    return Schedule(seed, parameters, tuple(replace(f, id=n) for n, f in enumerate(ordered, 1)))


def _draw(rng: random.Random, fault: str, p: Parameters) -> FaultSpec:
    """One fault's target, length and parameters (placed later)."""
    enactor = rng.choice(ENACTORS)
    if fault == "latency":
        latency_ms = rng.randint(100, 2_000)
        for_s = _seconds(rng, 3, 8)
        path = rng.choice(PATHS)
        jitter_ms = rng.randint(0, latency_ms // 2)
        stream = rng.choice(("upstream", "downstream"))
        if path == "dns":
            latency_ms, jitter_ms = _near_deadline(latency_ms, jitter_ms, p.self_check_timeout_ms)
        return FaultSpec(0, fault, enactor, 0.0, for_s,
                         {"path": path, "latency_ms": latency_ms, "jitter_ms": jitter_ms, "stream": stream})
    if fault in ("timeout", "reset-peer"):
        return FaultSpec(0, fault, enactor, 0.0, _seconds(rng, 2, 6),
                         {"path": rng.choice(PATHS), "timeout_ms": rng.randint(0 if fault == "reset-peer" else 200,
                                                                               2_000)})
    if fault == "hold":
        # Up to K plans and a little more: long enough, at the top of the range, to fall K plans behind.
        return FaultSpec(0, fault, enactor, 0.0,
                         _seconds(rng, 3, p.keep_generations * p.plan_tick_s + 3), {"path": rng.choice(HOLD_PATHS)})
    if fault == "partition":
        return FaultSpec(0, fault, enactor, 0.0, _seconds(rng, 2, 8), {})
    if fault == "pause":
        return FaultSpec(0, fault, enactor, 0.0, _seconds(rng, p.lock_ttl_s + 1, p.lock_ttl_s + 4),
                         {"while_locked": True, "lock_wait_s": 8.0})
    if fault == "kill-enactor":
        return FaultSpec(0, fault, enactor, 0.0, _seconds(rng, 0.5, 3), {})
    if fault == "kill-redis":
        return FaultSpec(0, fault, "redis", 0.0, _seconds(rng, 1, 4), {})
    if fault == "kill-dns-admin":
        mid_batch = rng.random() < 0.5
        return FaultSpec(0, fault, "dns-admin", 0.0, _seconds(rng, 1, 4),
                         {"mid_batch": mid_batch, "via": enactor, "batch_wait_s": 4.0} if mid_batch else {})
    if fault == "delete-live-plan":
        return FaultSpec(0, fault, "dns-admin", 0.0, 0.0, {})
    raise ValueError(f"unknown fault {fault!r}")


def _near_deadline(latency_ms: int, jitter_ms: int, deadline_ms: int) -> tuple[int, int]:
    """A DNS-path latency moved to 0.8-1.2x the self-check's deadline, jitter to at most 0.15x of it.

    The DNS path carries one thing, the safe enactor's self-check, and a latency far below its deadline
    changes nothing while one far above it is a plain timeout. Around the deadline some answers come in
    just in time and some just too late: the self-check's deadline and the libraries' expire together,
    which is how issue 27 killed safe enactors. Mapped from the values already drawn, so no other draw of
    the schedule moves: a seed gives the same faults, at the same times, as before.
    """
    share = (latency_ms - 100) / 1_900                          # where the draw fell in 100..2000
    jitter_share = jitter_ms / max(1, latency_ms // 2)          # where the jitter fell in 0..latency/2
    return round(deadline_ms * (0.8 + 0.4 * share)), round(deadline_ms * 0.15 * jitter_share)


def _seconds(rng: random.Random, low: float, high: float) -> float:
    return round(rng.uniform(low, high), 2)


def _fits(candidate: FaultSpec, placed: list[FaultSpec], concurrency_max: int) -> bool:
    """No overlap on the same target, and at most concurrency_max faults at any moment."""
    overlapping = [f for f in placed if _overlap(f, candidate)]
    if any(_involved(f) & _involved(candidate) for f in overlapping):
        return False
    # The count can only rise where a fault starts: check at each start inside the candidate's window.
    moments = [candidate.at_s] + [f.at_s for f in overlapping if candidate.at_s <= f.at_s < _end(candidate)]
    return all(1 + sum(1 for f in overlapping if f.at_s <= moment < _end(f)) <= concurrency_max
               for moment in moments)


def _end(fault: FaultSpec) -> float:
    # A zero-length fault (the deletion) occupies its instant and half a second after it.
    return max(fault.until_s, fault.at_s + 0.5)


def _overlap(a: FaultSpec, b: FaultSpec) -> bool:
    return a.at_s < _end(b) and b.at_s < _end(a)


def _involved(fault: FaultSpec) -> set[str]:
    """What a fault acts on: its target, and the enactor whose proxy a mid-batch kill holds (`via`)."""
    return {fault.target} | ({str(fault.params["via"])} if fault.params.get("via") else set())
