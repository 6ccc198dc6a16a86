"""The running stack, reached only through what it publishes on 127.0.0.1 (and docker for containers)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import redis.asyncio as aioredis

from dnsrace.dns_admin_client import DnsAdminClient
from dnsrace.events import Event, RedisEventSink
from dnsrace.keys import EVENTS_STREAM, FIGURES_STREAM, PLANS_LATEST
from dnsrace.toxiproxy import ToxiproxyClient

from dnsrace_lab.stack.enactor_parameters import EnactorParameters, ParametersUnknown
from dnsrace_lab.stack.names import CALL_TIMEOUT_S, ENACTORS, ENDPOINT, TOP, ZONE, Ports, admin_token

# How far back the newest enactor_started events are looked for: a stack running for hours writes
# ~10 events a second, and an enactor's start is found again after each reset or restart.
PARAMETER_EVENTS_READ_MAX = 20_000

__all__ = ["CALL_TIMEOUT_S", "ENACTORS", "ENDPOINT", "TOP", "ZONE", "Ports", "Answer", "Live", "StepNotReached", "poll"]


@dataclass(frozen=True)
class Answer:
    """One DNS answer as dig would summarise it."""

    name: str
    rcode: str
    addresses: tuple[str, ...]
    soa_ttl: int | None

    def summary(self) -> str:
        body = ", ".join(self.addresses) if self.addresses else "no A records"
        kind = " (NODATA: the name exists, it has no A records)" if self.rcode == "NOERROR" and not self.addresses else ""
        return f"status {self.rcode}, ANSWER {len(self.addresses)}: {body}{kind}"


def compose_command(project: str) -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        base = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        base = ["docker-compose"]
    else:
        raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")
    return [*base, "-p", project, "-f", str(TOP / "docker-compose.yml")]


class Live:
    def __init__(self, project: str, ports: Ports) -> None:
        self.project = project
        self.ports = ports
        self.redis = aioredis.from_url(f"redis://127.0.0.1:{ports.probe_redis}/0", socket_timeout=CALL_TIMEOUT_S,
                                       socket_connect_timeout=CALL_TIMEOUT_S)
        self.admin = DnsAdminClient(f"http://127.0.0.1:{ports.admin}", zone=ZONE, timeout_s=CALL_TIMEOUT_S,
                                    client="operator", token=admin_token())
        self.toxiproxy = ToxiproxyClient(f"http://127.0.0.1:{ports.toxiproxy}", timeout_s=CALL_TIMEOUT_S)
        self.events = RedisEventSink(f"redis://127.0.0.1:{ports.probe_redis}/0", service="lab", echo=False)
        self._last_stream_id = "0-0"

    async def __aenter__(self) -> Live:
        await self.events.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.events.close()
        await self.admin.close()
        await self.toxiproxy.close()
        await self.redis.close()

    # --- DNS ----------------------------------------------------------------------------------------
    async def query(self, name: str = ENDPOINT, *, authoritative_view: bool = False) -> Answer:
        port = self.ports.dns_auth if authoritative_view else self.ports.dns
        response = await dns.asyncquery.udp(dns.message.make_query(name, dns.rdatatype.A), "127.0.0.1",
                                            port=port, timeout=2.0)
        addresses = tuple(sorted(i.address for rrset in response.answer for i in rrset
                                 if rrset.rdtype == dns.rdatatype.A))
        soa_ttl = next((rrset.ttl for rrset in response.authority if rrset.rdtype == dns.rdatatype.SOA), None)
        return Answer(name, dns.rcode.to_text(response.rcode()), addresses, soa_ttl)

    async def poll_answer(self, *, empty: bool, within_s: float, what: str,
                          authoritative_view: bool = False) -> Answer:
        """The first answer that is empty (or, with empty=False, has addresses); StepNotReached after within_s."""
        async def probe() -> Answer | None:
            answer = await self.query(authoritative_view=authoritative_view)
            return answer if bool(answer.addresses) != empty else None
        return await poll(what, probe, within_s=within_s)

    async def audit_position(self) -> int:
        rows = await self.admin.audit(1)
        return int(rows[-1]["seq"]) if rows else 0

    async def audit_since(self, seq: int) -> list[dict[str, Any]]:
        return [row for row in await self.admin.audit(1000) if int(row["seq"]) > seq]

    # --- the event history -------------------------------------------------------------------------
    async def stream_position(self) -> str:
        rows = await self.redis.xrevrange(EVENTS_STREAM, count=1)
        return rows[0][0].decode() if rows else "0-0"

    async def events_since(self, stream_id: str, count: int = 5000) -> list[Event]:
        """Events appended after stream_id, in decision-time order."""
        rows = await self.redis.xrange(EVENTS_STREAM, min=f"({stream_id}", count=count)
        events = [Event.from_json(json.loads(f[b"event"]), seq=int(f[b"seq"])) for _, f in rows]
        return sorted(events, key=lambda e: (e.t, e.seq or 0))

    async def wait_event(self, since: str, what: str, match: Any, *, within_s: float) -> Event:
        """The first event after `since` for which match(event) is true; StepNotReached after within_s."""
        deadline = time.monotonic() + within_s
        cursor = since
        while time.monotonic() < deadline:
            rows = await self.redis.xread({EVENTS_STREAM: cursor}, count=500, block=100)
            for _stream, entries in rows:
                for entry_id, fields in entries:
                    cursor = entry_id.decode()
                    event = Event.from_json(json.loads(fields[b"event"]), seq=int(fields[b"seq"]))
                    if match(event):
                        return event
        raise StepNotReached(what, f"no such event within {within_s:.0f} s")

    async def enactor_parameters(self, *, within_s: float = 30.0) -> EnactorParameters:
        """What the enactors run with, from their newest enactor_started events (enactor_parameters.py);
        waited for within `within_s` (a stack just reset is still starting them), StepNotReached after."""
        deadline = time.monotonic() + within_s
        while True:
            rows = await self.redis.xrevrange(EVENTS_STREAM, count=PARAMETER_EVENTS_READ_MAX)
            events = [Event.from_json(json.loads(f[b"event"]), seq=int(f[b"seq"])) for _, f in reversed(rows)]
            try:
                return EnactorParameters.from_events(events)
            except ParametersUnknown as unknown:
                if time.monotonic() > deadline:
                    raise StepNotReached("the enactors' parameters", str(unknown)) from None
            await asyncio.sleep(0.5)

    async def newest_generation(self) -> int:
        return int(await self.redis.get(PLANS_LATEST) or 0)

    # --- the lease manager (the cascade) -----------------------------------------------------------
    async def dwfm_parameters(self, *, within_s: float = 60.0) -> dict[str, Any]:
        """dwfm's design and parameters as it said them (its newest dwfm_started event), never a copied
        default."""
        return await self.started_parameters("dwfm_started", "the lease manager's parameters", "dwfm",
                                             within_s=within_s)

    async def started_parameters(self, kind: str, what: str, service: str, *, within_s: float = 60.0) -> dict[str, Any]:
        """A service's design and parameters as it said them (its newest `kind` event): looked for among the
        newest events (a restart or reset), then the oldest (a stack that has run for hours since it
        started); waited for within `within_s`, StepNotReached after."""
        deadline = time.monotonic() + within_s
        while True:
            for rows in (await self.redis.xrevrange(EVENTS_STREAM, count=PARAMETER_EVENTS_READ_MAX),
                         list(reversed(await self.redis.xrange(EVENTS_STREAM, count=PARAMETER_EVENTS_READ_MAX)))):
                for _id, fields in rows:
                    event = json.loads(fields[b"event"])
                    if event.get("kind") == kind:
                        return dict(event.get("detail") or {})
            if time.monotonic() > deadline:
                raise StepNotReached(what, f"no {kind} event in the stream within {within_s:.0f} s (is {service} "
                                           "running? `make reset` starts it again)")
            await asyncio.sleep(0.5)

    async def latest_leases(self) -> dict[str, Any] | None:
        """dwfm's newest per-second line (lease_window) from the figures stream, with its time."""
        return await self.latest_figures("lease_window")

    async def figures_since(self, kind: str, since: float) -> list[dict[str, Any]]:
        """Every line of `kind` written since `since` (the stream's ids are Redis's millisecond times), oldest
        first, each its detail with its time."""
        out = []
        for _id, fields in await self.redis.xrange(FIGURES_STREAM, min=f"{int(since * 1000)}-0"):
            event = json.loads(fields[b"event"])
            if event.get("kind") == kind:
                out.append({**event["detail"], "t": float(event["t"])})
        return out

    async def latest_figures(self, kind: str) -> dict[str, Any] | None:
        """A service's newest per-second line of `kind` from the figures stream, with its time (five services
        write one a second each: the newest 40 entries hold every kind)."""
        for _id, fields in await self.redis.xrevrange(FIGURES_STREAM, count=40):
            event = json.loads(fields[b"event"])
            if event.get("kind") == kind:
                return {**event["detail"], "t": float(event["t"])}
        return None

    # --- containers --------------------------------------------------------------------------------
    def container_ids(self) -> dict[str, str]:
        ids = {}
        for service in ENACTORS:
            # Compose v1 and v2 both label their containers; one `docker ps` is much faster than `compose ps`.
            found = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}",
                                    "--filter", f"label=com.docker.compose.service={service}"],
                                   capture_output=True, text=True, check=True, timeout=60).stdout.split()
            if found:
                ids[service] = found[0]
        return ids

    def enactor_modes(self) -> dict[str, str]:
        """ENACTOR_MODE as each enactor container was started with."""
        modes = {}
        for service, container in self.container_ids().items():
            state = self.inspect(container)
            env = dict(item.split("=", 1) for item in state["Config"]["Env"] if "=" in item)
            modes[service] = env.get("ENACTOR_MODE", "?")
        return modes

    def inspect(self, container: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(subprocess.run(["docker", "inspect", container], capture_output=True,
                                                                text=True, check=True, timeout=60).stdout)
        return found[0]

    def restart_counts(self) -> dict[str, int]:
        return {service: int(self.inspect(container)["RestartCount"])
                for service, container in self.container_ids().items()}


class StepNotReached(Exception):
    """A step of a scenario did not happen within its bound; the message names the step."""

    def __init__(self, step: str, why: str) -> None:
        super().__init__(f"{step}: {why}")
        self.step = step
        self.why = why


T = TypeVar("T")
# A condition to wait for: its value once it holds, None (or anything false) until then.
Probe = Callable[[], Awaitable[T | None]]


async def poll(what: str, probe: Probe[T], *, within_s: float, every_s: float = 0.1) -> T:
    """Await probe() until truthy; StepNotReached naming `what` after within_s (a bound, not a sleep)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(every_s)
    raise StepNotReached(what, f"not within {within_s:.0f} s")
