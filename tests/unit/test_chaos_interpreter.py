"""The interpreter (chaos.inject): each fault at its time, and never two at once on one target, even when
one runs past its slot (a pause waiting for the lock, a slow `docker start`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from dnsrace_lab.chaos.campaign import inject
from dnsrace_lab.chaos.generator import FaultSpec


class SlowStartNemesis:
    """Starting a fault takes `start_s` (as a trigger's wait does); records when each ran."""

    def __init__(self, start_s: float) -> None:
        self.start_s = start_s
        self.ran: list[tuple[int, str, float, float]] = []

    @asynccontextmanager
    async def fault(self, spec: FaultSpec) -> AsyncIterator[bool]:
        await asyncio.sleep(self.start_s)
        began = time.monotonic()
        try:
            yield True
        finally:
            self.ran.append((spec.id, spec.target, began, time.monotonic()))


async def test_a_fault_waits_for_the_one_still_holding_its_target_and_others_do_not() -> None:
    nemesis = SlowStartNemesis(start_s=0.15)
    specs = [FaultSpec(1, "pause", "enactor-a", 0.0, 0.1), FaultSpec(2, "pause", "enactor-a", 0.12, 0.1),
             FaultSpec(3, "kill-dns-admin", "dns-admin", 0.05, 0.1, {"mid_batch": True, "via": "enactor-b"}),
             FaultSpec(4, "latency", "enactor-b", 0.06, 0.1, {"path": "redis"})]
    busy: dict[str, asyncio.Lock] = {}
    started = time.monotonic()
    await asyncio.gather(*(inject(nemesis, spec, started, busy) for spec in specs))  # type: ignore[arg-type]
    runs = {spec_id: (began, ended) for spec_id, _, began, ended in nemesis.ran}
    assert runs[2][0] >= runs[1][1]          # the second pause of enactor-a waited for the first to end
    assert runs[4][0] >= runs[3][1]          # the mid-batch kill holds its `via` enactor too
    assert runs[3][0] < runs[1][1]           # faults on other targets overlap freely


def test_the_fault_phase_lasts_until_its_last_fault_stops() -> None:
    from dnsrace_lab.chaos.campaign import phase_length_s
    from dnsrace_lab.chaos.generator import Parameters, generate
    parameters = Parameters(cascade=True, lease_ttl_s=45.0, lease_recovery_bound_s=60.0, client_recovery_bound_s=60.0)
    schedule = generate(2003, parameters)
    cut = next(f for f in schedule.faults if f.fault == "partition-dynamodb")
    assert cut.until_s > parameters.fault_phase_s      # 1.5 TTLs alone outlast the 24 s phase
    assert phase_length_s(schedule) == max(f.until_s for f in schedule.faults)
    assert phase_length_s(generate(2003, Parameters())) == Parameters().fault_phase_s
