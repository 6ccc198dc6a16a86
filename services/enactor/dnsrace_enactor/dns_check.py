"""The self-check's edge: ask CoreDNS's authoritative listener what the endpoint answers, over TCP.

The query crosses the enactor's own Toxiproxy proxy (enactor-X-dns -> coredns:5354), so the
self-check can be slowed or cut like every other path the enactor has. A timeout or a dropped
connection is an answer too (TIMED_OUT: unknown), never an exception: an unknown answer must not
make anyone repair anything.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

from dnsrace.deadline import within

__all__ = ["DnsAnswer", "EndpointResolver", "TIMED_OUT"]

TIMED_OUT = "TIMEOUT"


@dataclass(frozen=True)
class DnsAnswer:
    rcode: str                      # NOERROR, NXDOMAIN, ... or TIMED_OUT
    addresses: tuple[str, ...]


class EndpointResolver:
    def __init__(self, host: str, port: int, *, timeout_s: float) -> None:
        self._host = host
        self._port = port
        self._timeout_s = timeout_s
        self._address: str | None = None

    async def _where(self) -> str:
        # dnspython takes an address, not a name; the proxy's address is looked up once, again on failure.
        if self._address is None:
            infos = await asyncio.get_running_loop().getaddrinfo(self._host, self._port, family=socket.AF_INET,
                                                                 type=socket.SOCK_STREAM)
            self._address = str(infos[0][4][0])
        return self._address

    async def _ask(self, query: dns.message.Message) -> dns.message.Message:
        return await dns.asyncquery.tcp(query, await self._where(), port=self._port, timeout=None)

    async def resolve(self, name: str) -> DnsAnswer:
        query = dns.message.make_query(name, dns.rdatatype.A)
        try:
            # One deadline for the whole question (the address look-up included), in a task of its own;
            # dnspython gets none (timeout=None): see dnsrace.deadline for why two deadlines kill.
            response = await within(self._timeout_s, self._ask(query))
        except (TimeoutError, OSError, EOFError, dns.exception.DNSException):
            self._address = None
            return DnsAnswer(TIMED_OUT, ())
        addresses = tuple(sorted(item.address for rrset in response.answer for item in rrset
                                 if rrset.rdtype == dns.rdatatype.A))
        return DnsAnswer(dns.rcode.to_text(response.rcode()), addresses)
