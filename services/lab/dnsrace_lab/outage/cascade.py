"""SCENARIO=cascade: the DNS race as the trigger, then what EC2's lease manager does after DNS is back.

    step C1  the leases are healthy (>= 95 % leased, from dwfm's figures)
    step C2  the race (scenarios.race, legacy enactors): the endpoint answers empty
    step C3  the outage is held until the leases have lapsed (longer than the lease TTL)
    step C4  the operator's fix (`make repair`'s: the endpoint pointed at the newest plan), until the
             resolver answers again: DNS is back
    step C5  observed: legacy, for OBSERVE_TTLS lease TTLs; safe, until it recovers (bounded)

SCENARIO=cascade-mitigate (legacy's lease manager only): C1-C4, then what AWS's operators did:
    step M0  still collapsed past (7)'s bound
    step M1  the lease manager restarted alone: its queue is gone, and it collapses again
    step M2  throttled (admission by queue size, DWFM_THROTTLE) and restarted: it recovers

Its expectations (report.expect), judged from dwfm's figures in the lab's Redis, and the checker's (7)
from the recorded history: legacy must stay collapsed after DNS is back (leased fraction near 0 for
the whole window, the queue growing, launches failing); safe must have >= 95 % leased within
LEASE_RECOVERY_BOUND_S of DNS answering again, with no operator action.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dnsrace.keys import DWFM_THROTTLE

from dnsrace_lab.harness.checker.verdict import LEASE_RECOVERY_BOUND_S
from dnsrace_lab.harness.recording import LEASES_START_WAIT_S
from dnsrace_lab.harness.nemesis import Nemesis
from dnsrace_lab.outage import scenarios
from dnsrace_lab.outage.scenarios import Report
from dnsrace_lab.stack.live import Live, StepNotReached, poll
from dnsrace_lab.stack.reset import containers

RECOVERED = 0.95           # what "the leases are back" means (also the checker's (7))
LAPSED = 0.05              # what "the leases have lapsed" means
OBSERVE_TTLS = 3.0         # legacy: how long the collapse is watched after DNS is back, in lease TTLs


@dataclass
class Cascade:
    dwfm_mode: str
    params: dict[str, Any]
    observe_s: float | None = None     # legacy's window after DNS is back (None: OBSERVE_TTLS TTLs, past (7)'s bound)
    t_dns_empty: float = 0.0
    t_lapsed: float = 0.0
    t_dns_back: float = 0.0
    at_back: dict[str, Any] | None = None
    last: dict[str, Any] | None = None

    @property
    def ttl_s(self) -> float:
        return float(self.params["ttl_s"])


def line(figures: dict[str, Any]) -> str:
    return (f"leased {figures.get('leased_fraction', 0):.1%}, queue {figures.get('queue')} (head "
            f"{figures.get('head_age_s')} s old), goodput {figures.get('goodput_per_s')}/s, "
            f"worked {figures.get('worked_per_s')}/s, attempts per success {figures.get('attempts_per_success')}")


def _leased(live: Live, test: Callable[[float], bool]) -> Callable[[], Awaitable[dict[str, Any] | None]]:
    async def probe() -> dict[str, Any] | None:
        figures = await live.latest_leases()
        return figures if figures is not None and test(float(figures.get("leased_fraction") or 0)) else None
    return probe


async def play(live: Live, nemesis: Nemesis, report: Report, cascade: Cascade) -> None:
    await trigger(live, nemesis, report, cascade)
    if report.scenario == "cascade-mitigate":
        await mitigate(live, report, cascade)
    else:
        await observe(live, report, cascade)


async def trigger(live: Live, nemesis: Nemesis, report: Report, cascade: Cascade) -> None:
    """Steps C1-C4: healthy leases, the race empties DNS, the leases lapse, the operator's fix brings DNS back."""
    healthy = await poll(f"step C1: >= {RECOVERED:.0%} of droplets leased", _leased(live, lambda f: f >= RECOVERED),
                         within_s=LEASES_START_WAIT_S + float(cascade.params["renew_s"]), every_s=1.0)
    report.step(f"step C1 the lease manager ({cascade.dwfm_mode}, {cascade.params['droplets']} droplets, "
                f"{cascade.params['workers']} workers, renew every {cascade.params['renew_s']:g} s, TTL "
                f"{cascade.ttl_s:g} s, timeout {cascade.params['timeout_s']:g} s) is healthy: {line(healthy)}")
    await scenarios.plans_flow(live, report)
    await scenarios.race(live, nemesis, report)
    await nemesis.heal()
    await live.poll_answer(empty=True, within_s=30, what="step C2: the resolver answers empty")
    cascade.t_dns_empty = time.time()
    report.step("step C2 the race emptied the endpoint: DynamoDB's name does not resolve (the lease manager's "
                "boto3 calls fail with EndpointConnectionError)")
    lapsed = await poll(f"step C3: the leases lapse (<= {LAPSED:.0%} leased)", _leased(live, lambda f: f <= LAPSED),
                        within_s=cascade.ttl_s + float(cascade.params["renew_s"]) + 60, every_s=1.0)
    cascade.t_lapsed = time.time()
    report.step(f"step C3 {cascade.t_lapsed - cascade.t_dns_empty:.0f} s without DNS: the leases lapsed: {line(lapsed)}")
    await repair(live, report, cascade)


async def repair(live: Live, report: Report, cascade: Cascade) -> None:
    status = await live.admin.console_status()
    newest = (status["now"].get("newest_existing") or {}).get("plan")
    if newest is None:
        raise StepNotReached("step C4: the repair", "no plan record set exists to point the endpoint at")
    await live.admin.repair(expect_target=newest)
    await live.poll_answer(empty=False, within_s=60, what="step C4: the resolver answers again after the repair")
    cascade.t_dns_back = time.time()
    cascade.at_back = await live.latest_leases()
    report.step(f"step C4 the operator's fix (the endpoint pointed at {newest}): DNS answers again "
                f"{cascade.t_dns_back - cascade.t_dns_empty:.0f} s after it went empty; "
                f"{line(cascade.at_back or {})}")


async def watch(live: Live, report: Report, since: float, window_s: float, what: str,
                until_recovered: bool) -> list[dict[str, Any]]:
    """dwfm's figures from `since` for `window_s` (or until >= 95 % leased), one line printed every 10 s."""
    seen: list[dict[str, Any]] = []
    next_print = time.time() + 10.0
    while time.time() < since + window_s:
        figures = await live.latest_leases()
        if figures is not None and figures["t"] > since and (not seen or figures["t"] > seen[-1]["t"]):
            seen.append(figures)
            if time.time() >= next_print:
                next_print += 10.0
                report.step(f"        +{figures['t'] - since:5.0f} s after {what}: {line(figures)}")
            if until_recovered and float(figures.get("leased_fraction") or 0) >= RECOVERED:
                break
        await asyncio.sleep(1.0)
    return seen


async def observe(live: Live, report: Report, cascade: Cascade) -> None:
    legacy = cascade.dwfm_mode == "legacy"
    # Legacy is watched for several TTLs and at least past (7)'s bound, so the checker can decide.
    window_s = (cascade.observe_s or max(OBSERVE_TTLS * cascade.ttl_s, LEASE_RECOVERY_BOUND_S + 5.0) if legacy
                else LEASE_RECOVERY_BOUND_S)
    # The sweep (bench/dwfm_sweep.sh) gives legacy a window of its own and wants its recovery time.
    seen = await watch(live, report, cascade.t_dns_back, window_s, "DNS came back",
                       until_recovered=not legacy or cascade.observe_s is not None)
    cascade.last = seen[-1] if seen else None
    if legacy:
        expect_collapse(report, cascade, seen)
    else:
        expect_recovery(report, cascade, seen)


def expect_collapse(report: Report, cascade: Cascade, seen: list[dict[str, Any]]) -> None:
    """Legacy: the trigger is gone and the system stays broken, for the whole window."""
    window_s = seen[-1]["t"] - cascade.t_dns_back if seen else 0.0
    report.expect(window_s >= OBSERVE_TTLS * cascade.ttl_s - 5,
                  f"observed {window_s:.0f} s after DNS came back (at least {OBSERVE_TTLS:g} lease TTLs, "
                  f"{OBSERVE_TTLS * cascade.ttl_s:.0f} s)")
    worst = max((float(f.get("leased_fraction") or 0) for f in seen), default=1.0)
    report.expect(worst <= LAPSED, f"the leased fraction stayed <= {LAPSED:.0%} the whole time (at most {worst:.1%})")
    queue_back = int((cascade.at_back or {}).get("queue") or 0)
    queue_end = int(seen[-1].get("queue") or 0) if seen else 0
    report.expect(queue_end > queue_back, f"the queue kept growing: {queue_back} when DNS came back, {queue_end} at the end")
    report.step(f"step C5 the trigger is gone and the leases stay collapsed: {line(seen[-1]) if seen else 'no figures'}")


def expect_recovery(report: Report, cascade: Cascade, seen: list[dict[str, Any]]) -> None:
    """Safe: >= 95 % leased within the bound of DNS answering again, by itself."""
    recovered = next((f for f in seen if float(f.get("leased_fraction") or 0) >= RECOVERED), None)
    took = recovered["t"] - cascade.t_dns_back if recovered else None
    report.expect(took is not None and took <= LEASE_RECOVERY_BOUND_S,
                  f">= {RECOVERED:.0%} of droplets leased again within {LEASE_RECOVERY_BOUND_S:g} s of DNS answering "
                  + (f"({took:.0f} s, no operator action)" if took is not None else "(not reached)"))
    report.step(f"step C5 the lease manager recovered by itself: {line(recovered) if recovered else 'NOT recovered'}")


# --- cascade-mitigate: the operator's two moves ----------------------------------------------------------


async def restart_dwfm(live: Live, report: Report, text: str) -> float:
    """`docker restart` the lease manager (its queue is in memory: gone), and wait for its new books."""
    since = await live.stream_position()
    found = await asyncio.to_thread(containers, live.project)
    if "dwfm" not in found:
        raise StepNotReached(text, "no dwfm container in the project")
    container = found["dwfm"].id
    def restart() -> None:
        subprocess.run(["docker", "restart", "-t", "2", container], check=True, capture_output=True, timeout=60)
    await asyncio.to_thread(restart)
    prepared = await live.wait_event(since, "dwfm prepares its books after the restart",
                                     lambda e: e.kind == "dwfm_prepared", within_s=60)
    report.step(f"{text}: dwfm restarted and found {prepared.detail.get('leases_found')} lease items, "
                f"{prepared.detail.get('lapsed')} of them lapsed")
    return prepared.t


async def mitigate(live: Live, report: Report, cascade: Cascade) -> None:
    seen = await watch(live, report, cascade.t_dns_back, LEASE_RECOVERY_BOUND_S + 5.0, "DNS came back", False)
    worst = max((float(f.get("leased_fraction") or 0) for f in seen), default=1.0)
    report.expect(worst <= LAPSED, f"M0: collapsed past (7)'s bound after DNS came back (at most {worst:.1%} leased)")
    report.step(f"step M0 {LEASE_RECOVERY_BOUND_S + 5:.0f} s after DNS came back, still collapsed: "
                f"{line(seen[-1]) if seen else 'no figures'}")

    restarted = await restart_dwfm(live, report, "step M1 the operator's first move, a restart alone")
    window_s = cascade.ttl_s + 30.0
    seen = await watch(live, report, restarted, window_s, "the restart", until_recovered=False)
    peak = max((float(f.get("leased_fraction") or 0) for f in seen), default=0.0)
    last = seen[-1] if seen else {}
    report.expect(float(last.get("leased_fraction") or 0) <= LAPSED,
                  f"M1: a restart alone collapses again: {peak:.1%} leased at best, "
                  f"{float(last.get('leased_fraction') or 0):.1%} after {window_s:.0f} s, queue {last.get('queue')}")
    report.step(f"step M1 the restart cleared the queue, re-established some leases ({peak:.0%} at best), and "
                f"collapsed again: {line(last)}")

    await live.redis.set(DWFM_THROTTLE, "on")
    restarted = await restart_dwfm(live, report, "step M2 the operator's second move: throttle (DWFM_THROTTLE), then restart")
    seen = await watch(live, report, restarted, LEASE_RECOVERY_BOUND_S, "the throttled restart", until_recovered=True)
    recovered = next((f for f in seen if float(f.get("leased_fraction") or 0) >= RECOVERED), None)
    took = recovered["t"] - restarted if recovered else None
    report.expect(took is not None,
                  f"M2: throttled and restarted, >= {RECOVERED:.0%} leased within {LEASE_RECOVERY_BOUND_S:g} s"
                  + (f" ({took:.0f} s, design {recovered.get('mode')})" if recovered and took is not None else
                     " (not reached)"))
    cascade.last = seen[-1] if seen else None
    report.step(f"step M2 throttled and restarted, the lease manager recovered: "
                f"{line(recovered) if recovered else 'NOT recovered'}; the throttle stays on (make reset clears it)")
