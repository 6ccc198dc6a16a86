"""The live stack under test: a compose project of its own, on free loopback ports, torn down after.

Integration tests talk to it only the way a user or operator would: DNS to CoreDNS's published port,
HTTP to dns-admin and Toxiproxy, `docker-compose exec/kill/start`, and Redis through Toxiproxy's
published probe proxy (Redis itself is not published).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import redis

from dnsrace.keys import EVENTS_STREAM, PLANS_LATEST, plan_key

TOP = Path(__file__).resolve().parents[2]
ENDPOINT = "dynamodb.us-east-1.lab.test"
T = TypeVar("T")


def compose_command() -> list[str]:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    if probe.returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    raise RuntimeError("neither `docker compose` nor `docker-compose` is installed")


def free_port() -> int:
    """A loopback port free for both TCP and UDP (DNS is published on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def wait_for(what: str, probe: Callable[[], T | None], *, within_s: float, every_s: float = 0.25) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `within_s` (a bound)."""
    deadline = time.monotonic() + within_s
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value:
                return value
        except Exception as error:  # noqa: BLE001 — kept and reported if the bound runs out
            last_error = error
        time.sleep(every_s)
    raise AssertionError(f"not within {within_s} s: {what}" + (f" (last error: {last_error!r})" if last_error else ""))


@dataclass
class Answer:
    rcode: str
    addresses: set[str]
    soa_ttl: int | None
    authoritative: bool


@dataclass
class Stack:
    project: str
    ports: dict[str, int]
    compose_bin: list[str]
    mode: str = "legacy"
    dwfm_mode: str = "legacy"
    nlb_mode: str = "legacy"
    netmgr_mode: str = "legacy"
    # The backends' subnet (it holds the cascade's resolver at .250): its own, beside the default stack's
    # 10.213.53.0/24.
    subnet_octet: int = field(default_factory=lambda: 54 + os.getpid() % 190)
    # dns-admin's bearer token for this stack alone (never the developer's .env): compose, the lab's tools
    # and `make` all take DNSRACE_ADMIN_TOKEN from the environment before the file.
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({
            "DNSRACE_DNS_PORT": str(self.ports["dns"]),
            "DNSRACE_DNS_AUTH_PORT": str(self.ports["dns_auth"]),
            "DNSRACE_ADMIN_PORT": str(self.ports["admin"]),
            "DNSRACE_TOXIPROXY_PORT": str(self.ports["toxiproxy"]),
            "DNSRACE_METRICS_PORT": str(self.ports["metrics"]),
            "DNSRACE_PROBE_REDIS_PORT": str(self.ports["probe_redis"]),
            "ENACTOR_MODE": self.mode,
            "DWFM_MODE": self.dwfm_mode,
            "NLB_MODE": self.nlb_mode,
            "NETMGR_MODE": self.netmgr_mode,
            "DNSRACE_BACKENDS_SUBNET": f"10.213.{self.subnet_octet}.0/24",
            "DNSRACE_RESOLVER_ADDRESS": f"10.213.{self.subnet_octet}.250",
            # The cascade with fewer droplets and a shorter timeout (200 / (107/s × 1 s) ≈ 1.9, past legacy's
            # threshold of 1), so its tests take minutes; renewals (10 a second) stay light beside the other
            # tests, which run on the same two cores.
            "DROPLETS": "200", "DWFM_RENEW_MS": "20000", "DWFM_TTL_MS": "30000", "DWFM_TIMEOUT_MS": "1000",
            # Act 2 at the same scale: Network Manager works 10 items a second, the launches bring 5, so 200
            # droplets leased again are a backlog of about 40 s; a slot's instance lives 40 s, so such a
            # backlog meets most slots' replacements.
            "PROPAGATE_PER_S": "10", "INSTANCE_LIFETIME_MS": "40000",
            "DNSRACE_ADMIN_TOKEN": self.admin_token,
        })
        return env

    def compose(self, *args: str, check: bool = True, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
        command = [*self.compose_bin, "-p", self.project, "-f", str(TOP / "docker-compose.yml"), *args]
        result = subprocess.run(command, cwd=TOP, env=self.env, capture_output=True, text=True, timeout=timeout_s)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def wait_ready(self, timeout_s: int = 180) -> None:
        """Every container running and the resolver answering the endpoint (infra/wait-ready.sh)."""
        subprocess.run(["bash", str(TOP / "infra/wait-ready.sh"), self.project, str(self.ports["dns"]),
                        str(self.ports["dns_auth"]), str(timeout_s)],
                       check=True, timeout=timeout_s + 30, env=self.env)

    def wait_healthy(self, timeout_s: int = 180) -> None:
        """Docker's own health for every container (checked every 30 s, so this takes longer)."""
        subprocess.run(["bash", str(TOP / "infra/wait-healthy.sh"), self.project, str(timeout_s)], check=True,
                       timeout=timeout_s + 30)

    def container(self, service: str) -> str:
        out = self.compose("ps", "-q", service).stdout.split()
        assert out, f"no container for {service}"
        return out[0]

    def inspect(self, service: str) -> dict[str, Any]:
        out = subprocess.run(["docker", "inspect", self.container(service)], capture_output=True, text=True, check=True,
                             timeout=30)
        return json.loads(out.stdout)[0]

    # --- DNS, as a client sees it ------------------------------------------------------------------
    def query(self, name: str = ENDPOINT, *, tcp: bool = False, authoritative_view: bool = False) -> Answer:
        port = self.ports["dns_auth" if authoritative_view else "dns"]
        message = dns.message.make_query(name, dns.rdatatype.A)
        send = dns.query.tcp if tcp else dns.query.udp
        response = send(message, "127.0.0.1", port=port, timeout=2.0)
        addresses = {item.address for rrset in response.answer for item in rrset if rrset.rdtype == dns.rdatatype.A}
        soa_ttl = next((rrset.ttl for rrset in response.authority if rrset.rdtype == dns.rdatatype.SOA), None)
        return Answer(dns.rcode.to_text(response.rcode()), addresses, soa_ttl,
                      bool(response.flags & dns.flags.AA))

    # --- dns-admin's HTTP API ----------------------------------------------------------------------
    def admin(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
              token: str | None = "") -> tuple[int, Any]:
        """One call to dns-admin; a change carries this stack's token unless `token` says another (None: none)."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Content-Type": "application/json"}
        token = self.admin_token if token == "" else token
        if method != "GET" and token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports['admin']}{path}", data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def record_set(self, name: str, type_: str) -> dict[str, Any] | None:
        status, body = self.admin("GET", f"/v1/record-sets/{name}/{type_}")
        if status == 404:
            return None
        assert status == 200, body
        return body

    def record_sets(self) -> list[dict[str, Any]]:
        status, body = self.admin("GET", "/v1/record-sets")
        assert status == 200, body
        return body["record_sets"]

    # --- Redis, through Toxiproxy's published probe proxy -----------------------------------------
    def redis(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.ports["probe_redis"], socket_timeout=5, socket_connect_timeout=5)

    def newest_plan(self) -> dict[str, Any]:
        client = self.redis()
        try:
            generation = int(client.get(PLANS_LATEST))
            return json.loads(client.get(plan_key(generation)))
        finally:
            client.close()

    def events(self, count: int = 2000) -> list[dict[str, Any]]:
        client = self.redis()
        try:
            rows = client.xrevrange(EVENTS_STREAM, count=count)
        finally:
            client.close()
        events = []
        for _id, fields in rows:
            event = json.loads(fields[b"event"])
            event["seq"] = int(fields[b"seq"])
            events.append(event)
        return sorted(events, key=lambda e: e["seq"])
