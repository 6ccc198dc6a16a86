"""The stack's fixed names, images and published ports, in one place: what every lab tool needs,
importing nothing heavy (`make ps` and every target's state check import this; live.py re-exports it).
The Redis keys the services share are dnsrace.keys; the pinned versions are infra/versions.env, read
here rather than typed again."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parents[4]
ENDPOINT = "dynamodb.us-east-1.lab.test"
ZONE = "lab.test"
ENACTORS = ("enactor-a", "enactor-b", "enactor-c")
BACKENDS = ("backend-1", "backend-2", "backend-3")
# The cascade (issue 23): DynamoDB's storage node, the droplets, EC2's lease manager, the launcher.
CASCADE = ("dynamodb", "droplets", "dwfm", "launcher")
# docker-compose.yml's services, in the order the lab lists them.
# The cascade, act 2 (issue 24): Network Manager, the load balancer's fleet, HAProxy, its control, the clients.
NETWORK = ("netmgr", "instances", "nlb", "nlb-control", "clients")
SERVICES = ("redis", "toxiproxy", "dns-admin", "coredns", "planner", *ENACTORS, *BACKENDS, *CASCADE, *NETWORK)
VERSIONS_FILE = TOP / "infra" / "versions.env"
CALL_TIMEOUT_S = 5.0
# The services' image: DNSRACE_APP_IMAGE lets a second checkout build and test its own beside the
# running stack (docker-compose.yml and infra/images/build-images.sh read the same variable).
APP_IMAGE = os.environ.get("DNSRACE_APP_IMAGE") or "dnsrace/app:local"
ENV_FILE = TOP / ".env"
# Where the lab's Python lives, relative to TOP: the Makefile's LAB line says the same (a unit test holds
# it to this), and every lab process started from Python gets lab_pythonpath().
LAB_PATHS = ("services/common", "services/lab", "services/dns-admin", "model")


def lab_pythonpath(top: Path = TOP) -> str:
    return ":".join(str(top / path) for path in LAB_PATHS)


def pinned_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """infra/versions.env as a dict (KEY=VALUE lines; comments and blank lines skipped)."""
    versions = {}
    for line in path.read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and not key.lstrip().startswith("#"):
            versions[key.strip()] = value.strip()
    return versions


def images() -> tuple[str, ...]:
    """Every image the stack runs, as build-images.sh tags them from infra/versions.env."""
    versions = pinned_versions()
    return (APP_IMAGE, f"dnsrace/coredns:{versions['COREDNS_VERSION']}",
            f"dnsrace/toxiproxy:{versions['TOXIPROXY_VERSION']}", f"dnsrace/redis:{versions['REDIS_VERSION']}",
            f"dnsrace/dynamodb:minidyn-{versions['MINIDYN_VERSION']}")


def admin_token() -> str | None:
    """dns-admin's bearer token, for the lab's changes (the nemesis's deletion, the operator's repair):
    DNSRACE_ADMIN_TOKEN from the environment (the test suite gives its stack its own), else from the
    `.env` that `make up` wrote beside docker-compose.yml, the file compose reads it from."""
    token = os.environ.get("DNSRACE_ADMIN_TOKEN")
    if token:
        return token
    try:
        lines = ENV_FILE.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        key, equals, value = line.partition("=")
        if equals and key.strip() == "DNSRACE_ADMIN_TOKEN":
            return value.strip().strip("'\"") or None
    return None


@dataclass(frozen=True)
class Ports:
    dns: int
    dns_auth: int
    admin: int
    toxiproxy: int
    probe_redis: int

    @classmethod
    def from_env(cls) -> Ports:
        def port(name: str, default: int) -> int:
            return int(os.environ.get(name) or default)
        return cls(port("DNSRACE_DNS_PORT", 1053), port("DNSRACE_DNS_AUTH_PORT", 1054),
                   port("DNSRACE_ADMIN_PORT", 8080), port("DNSRACE_TOXIPROXY_PORT", 8474),
                   port("DNSRACE_PROBE_REDIS_PORT", 22000))
