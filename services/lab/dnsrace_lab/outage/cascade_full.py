"""SCENARIO=cascade-full: the incident's impact windows in one run, minutes not hours (issue 24).

    steps C1-C4  cascade.py's: healthy leases, the race empties DNS, the leases lapse, the operator's fix
    step F1      the lease manager after DNS is back. Legacy stays collapsed past (7)'s bound, then the
                 operator does what AWS did at 4:14 AM (throttle by queue size, restart); safe recovers
                 by itself.
    step F2      every droplet leased again after its lapse is network state owed: Network Manager's
                 queue fills (the lease manager posts them)
    step F3      watched until the backlog is worked (nothing queued for a second or more), every slot
                 networked and every target in service
                 for QUIET_S (bounded by WATCH_BOUND_S), a line every 10 s: the queue, slots without
                 networking, the load balancer's targets in service and answering ones out, the clients

The impact windows (DNS → leases → networking → capacity → clients) are read from the recorded
history (harness/impact.py) and printed as one chain, each window linked to the one before. Expected,
with the downstream designs all legacy: the networking, capacity and clients windows happen after DNS is
back, and the checker breaks (8) and (9). All safe (CASCADE_MODE=safe: DWFM_MODE, NLB_MODE and
NETMGR_MODE safe): none of those three windows, (7), (8) and (9) held; the DNS window and the leases
lapsing under it (DynamoDB was unreachable) are all that is left, and the leases are back within (7)'s
bound. The trigger is legacy's race either way (MODE=legacy): safe enactors never empty the endpoint.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from dnsrace.keys import DWFM_THROTTLE

from dnsrace_lab.harness.checker.verdict import LEASE_RECOVERY_BOUND_S
from dnsrace_lab.harness.nemesis import Nemesis
from dnsrace_lab.outage import cascade
from dnsrace_lab.outage.scenarios import Report
from dnsrace_lab.stack.live import Live, StepNotReached, poll

QUIET_S = 10.0          # F3 ends after this long with the backlog worked and every target in service
WATCH_BOUND_S = 300.0   # F3's bound
BACKLOG_WAIT_S = 60.0   # F2: the queue must fill within this of the leases coming back


@dataclass
class Full:
    leases: cascade.Cascade
    nlb: dict[str, Any]       # nlb_started's detail
    netmgr: dict[str, Any]    # netmgr_started's detail
    t_leases_back: float = 0.0
    peak_queue: int = 0

    @property
    def designs(self) -> str:
        return (f"DWFM_MODE={self.leases.dwfm_mode} NLB_MODE={self.nlb.get('mode')} "
                f"NETMGR_MODE={self.netmgr.get('mode')}")

    @property
    def all_safe(self) -> bool:
        return self.leases.dwfm_mode == "safe" and self.nlb.get("mode") == "safe" and self.netmgr.get("mode") == "safe"


def network_line(net: dict[str, Any] | None, nlb: dict[str, Any] | None, clients: dict[str, Any] | None) -> str:
    net, nlb, clients = net or {}, nlb or {}, clients or {}
    return (f"netmgr queue {net.get('queue')} (head {net.get('head_age_s')} s), {net.get('without_network')} slots "
            f"without networking, launches waiting {net.get('refused')}/s; nlb {nlb.get('in_service')}/{nlb.get('targets')} "
            f"in service, {nlb.get('out_while_networked')} answering out, checks p50 {nlb.get('check_ms_p50')} ms; "
            f"clients {clients.get('ok')} ok, {clients.get('errors')} errors")


async def play(live: Live, nemesis: Nemesis, report: Report, full: Full) -> None:
    report.step(f"step F0 the designs: {full.designs} (the enactors: legacy, the trigger)")
    await cascade.trigger(live, nemesis, report, full.leases)
    await leases_back(live, report, full)
    await backlog(live, report, full)
    await watch_network(live, report, full)


async def leases_back(live: Live, report: Report, full: Full) -> None:
    c = full.leases
    if c.dwfm_mode == "legacy":
        seen = await cascade.watch(live, report, c.t_dns_back, LEASE_RECOVERY_BOUND_S + 5.0, "DNS came back", False)
        worst = max((float(f.get("leased_fraction") or 0) for f in seen), default=1.0)
        report.expect(worst <= cascade.LAPSED, f"F1: legacy stayed collapsed past (7)'s bound (at most {worst:.1%} leased)")
        await live.redis.set(DWFM_THROTTLE, "on")
        since = await cascade.restart_dwfm(live, report, "step F1 the operator's move at 4:14 AM: throttle, then restart")
    else:
        since = c.t_dns_back
    seen = await cascade.watch(live, report, since, LEASE_RECOVERY_BOUND_S, "that", until_recovered=True)
    back = next((f for f in seen if float(f.get("leased_fraction") or 0) >= cascade.RECOVERED), None)
    if back is None:
        raise StepNotReached("step F1: the leases come back", f"not {cascade.RECOVERED:.0%} leased within "
                             f"{LEASE_RECOVERY_BOUND_S:g} s ({cascade.line(seen[-1]) if seen else 'no figures'})")
    full.t_leases_back = back["t"]
    report.step(f"step F1 the leases are back {back['t'] - c.t_dns_back:.0f} s after DNS: {cascade.line(back)}")


async def backlog(live: Live, report: Report, full: Full) -> None:
    async def filled() -> dict[str, Any] | None:
        """Every second's line since DNS came back: the droplets posted add up; F2 ends with the newest
        line once some came and the last second brought none (the lease manager has posted them all)."""
        lines = await live.figures_since("netmgr_window", full.leases.t_dns_back)
        owed = sum(int(line.get("droplets_queued") or 0) for line in lines)
        if owed and not int(lines[-1].get("droplets_queued") or 0):
            return {**lines[-1], "owed": owed}
        return None
    net = await poll("step F2: the lease manager posts the droplets leased again to Network Manager", filled,
                     within_s=BACKLOG_WAIT_S, every_s=0.5)
    full.peak_queue = int(net.get("queue") or 0)
    report.step(f"step F2 {net['owed']:,} droplets leased again are network state owed: Network Manager's queue "
                f"{net.get('queue'):,} ({net.get('rate_per_s')} worked a second)")


async def watch_network(live: Live, report: Report, full: Full) -> None:
    started = time.time()
    quiet_since: float | None = None
    next_print = started
    while True:
        net, nlb, clients = (await live.latest_figures("netmgr_window"), await live.latest_figures("nlb_window"),
                             await live.latest_figures("client_window"))
        full.peak_queue = max(full.peak_queue, int((net or {}).get("queue") or 0))
        now = time.time()
        if now >= next_print:
            next_print += 10.0
            report.step(f"        +{now - full.leases.t_dns_back:5.0f} s after DNS came back: {network_line(net, nlb, clients)}")
        # Worked: nothing older than a second queued (the launches keep adding an item now and then).
        calm = (net is not None and nlb is not None and float(net.get("head_age_s") or 0) < 1.0
                and int(net.get("without_network") or 0) == 0 and nlb.get("in_service") == nlb.get("targets"))
        quiet_since = (quiet_since or now) if calm else None
        if quiet_since is not None and now - quiet_since >= QUIET_S:
            break
        if now - started > WATCH_BOUND_S:
            raise StepNotReached("step F3: the backlog worked and every target in service",
                                 f"not within {WATCH_BOUND_S:.0f} s: {network_line(net, nlb, clients)}")
        await asyncio.sleep(1.0)
    report.step(f"step F3 the backlog is worked (its peak {full.peak_queue:,}), every slot networked and every target in "
                f"service for {QUIET_S:.0f} s, {time.time() - full.leases.t_dns_back:.0f} s after DNS came back")
