"""The client: DNS probes of the endpoint, each recorded as an operation in the history, Jepsen-style.

Two processes probe side by side, each at `rate_hz` (at least 10 a second):
    resolver       127.0.0.1:1053, the cached resolver clients use (negative answers are cached)
    authoritative  127.0.0.1:1054, CoreDNS's authoritative view of the zone, uncached

Each probe is an `invoke` followed by exactly one completion:
    ok    the endpoint answered with addresses (the value)
    fail  it certainly did not: NXDOMAIN, or NOERROR with no A records (NODATA) — an empty answer
    info  no answer within the timeout: unknown
The prober only records; the checker (harness/checker/) judges the history afterwards.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from dnsrace.deadline import sleep_or_stop

PROBE_TIMEOUT_S = 1.0
RATE_HZ_MIN = 10.0

Operation = dict[str, Any]


class Prober:
    def __init__(self, name: str, ports: dict[str, int], *, rate_hz: float = 20.0) -> None:
        if rate_hz < RATE_HZ_MIN:
            raise ValueError(f"rate_hz must be at least {RATE_HZ_MIN}")
        self._name = name
        self._ports = ports  # process -> port on 127.0.0.1
        self._interval_s = 1.0 / rate_hz
        self.history: list[Operation] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Prober:
        self._tasks = [asyncio.create_task(self._probe_loop(process, port)) for process, port in self._ports.items()]
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _probe_loop(self, process: str, port: int) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            await self._probe(process, port)
            next_at += self._interval_s
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at = time.monotonic()  # late (a slow answer): keep the rate, do not burst
            else:
                await sleep_or_stop(self._stop, delay)

    async def _probe(self, process: str, port: int) -> None:
        self.history.append({"process": process, "type": "invoke", "f": "resolve", "t": time.time()})
        query = dns.message.make_query(self._name, dns.rdatatype.A)
        try:
            response = await dns.asyncquery.udp(query, "127.0.0.1", port=port, timeout=PROBE_TIMEOUT_S)
        except (dns.exception.Timeout, OSError, EOFError, dns.exception.DNSException) as error:
            self.history.append({"process": process, "type": "info", "f": "resolve", "t": time.time(),
                                 "error": type(error).__name__})
            return
        addresses = sorted(item.address for rrset in response.answer for item in rrset
                           if rrset.rdtype == dns.rdatatype.A)
        self.history.append({"process": process, "type": "ok" if addresses else "fail", "f": "resolve",
                             "t": time.time(), "rcode": dns.rcode.to_text(response.rcode()), "value": addresses})
