"""python3 -m dnsrace_lab.stack.state — which state the lab is in, in one line, and the way out of it.

Every make target asks this first (it takes well under a second), so a target that cannot do its job
in the state the lab is in stops at once, says so, and names the command that gets out, instead of
waiting minutes for a health that cannot come.

    not-built   the images are missing                      make up (builds them first)
    down        no container of the project                 make up
    partial     some containers missing or stopped          make up (or make down)
    starting    all running, the endpoint not answering yet, started less than STARTING_S ago
    faults      a toxic, a disabled proxy or a paused container left by an interrupted run
                                                            make up (heals them), or make reset
    outage      the endpoint answers empty: its alias points at a plan that is gone (and, in legacy,
                every enactor crash-loops on the rollback record)      make repair (or make reset)
    broken      the endpoint answers empty for another reason          make reset (or make down)
    healthy     the endpoint answers with addresses (a client may still hold a cached empty answer)

Observing (docker, Toxiproxy, dns-admin, DNS, the event stream) is I/O with a short timeout on every
call; `classify` is pure and unit-tested. Exit status: the state's code below (0 healthy).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import redis

from dnsrace.keys import EVENTS_STREAM
from dnsrace.plans import plan_of_record_name

from dnsrace_lab.stack.names import ENACTORS, ENDPOINT, SERVICES, Ports, images

IMAGES = images()
CODES = {"healthy": 0, "not-built": 10, "down": 11, "partial": 12, "starting": 13, "faults": 14, "outage": 15,
         "broken": 16}
STARTING_S = 120.0        # the bound the stack is given to serve after its containers start
CALL_TIMEOUT_S = 2.0


@dataclass
class Observation:
    images_missing: list[str] = field(default_factory=list)
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> status, restarts, started_s
    toxics: dict[str, list[str]] = field(default_factory=dict)           # proxy -> toxic names
    disabled: list[str] = field(default_factory=list)
    toxiproxy_error: str | None = None
    endpoint_addresses: list[str] | None = None   # authoritative view; None: no answer at all
    resolver_addresses: list[str] | None = None
    alias_target: str | None = None               # what the endpoint aliases (dns-admin)
    alias_target_exists: bool | None = None
    crashes: dict[str, dict[str, Any]] = field(default_factory=dict)     # enactor -> its last crash event
    mode: str = ""
    now: float = 0.0


@dataclass(frozen=True)
class State:
    name: str
    line: str
    way_out: str

    @property
    def code(self) -> int:
        return CODES[self.name]

    def __str__(self) -> str:
        return f"lab: {self.line}" + (f" — {self.way_out}" if self.way_out else "")


def _plan(target: str | None) -> str:
    return plan_of_record_name(target) if target else "nothing"


def classify(o: Observation) -> State:
    """The lab's state from one observation (pure)."""
    if o.images_missing and not o.containers:
        return State("not-built", f"not built (missing {', '.join(o.images_missing)})",
                     "make up builds the images (about 3 min on a fresh machine), then starts the stack")
    if not o.containers:
        return State("down", "down (no container)", "make up starts it")
    missing = [s for s in SERVICES if s not in o.containers]
    stopped = [s for s, c in o.containers.items() if c["status"] in ("exited", "dead", "created")]
    if missing or stopped:
        what = ", ".join([f"{s} missing" for s in missing] + [f"{s} {o.containers[s]['status']}" for s in stopped])
        return State("partial", f"partly up ({what})", "make up starts what is missing, make down removes it all")
    faults = [f"toxic {', '.join(names)} on {proxy}" for proxy, names in sorted(o.toxics.items())]
    faults += [f"proxy {proxy} disabled" for proxy in o.disabled]
    faults += [f"{s} paused" for s, c in sorted(o.containers.items()) if c["status"] == "paused"]
    if faults:
        return State("faults", f"faults active: {'; '.join(faults)} (left by an interrupted run?)",
                     "make up heals them (make reset also clears the run's state)")
    crashing = [s for s in ENACTORS if s in o.crashes
                and (o.containers[s]["status"] == "restarting" or o.containers[s]["restarts"] > 0)]
    if o.endpoint_addresses:
        cached = "" if o.resolver_addresses else "; the resolver still serves a cached empty answer (negative caching)"
        restarts = sum(o.containers[s]["restarts"] for s in ENACTORS)
        return State("healthy", f"healthy: mode {o.mode}, endpoint -> {_plan(o.alias_target)}, "
                                f"{len(o.endpoint_addresses)} addresses{cached}"
                                + (f"; enactor restarts so far: {restarts}" if restarts else ""), "")
    youngest_s = min(c["started_s"] for c in o.containers.values())
    if o.alias_target is not None and o.alias_target_exists is False:
        line = (f"OUTAGE on {_plan(o.alias_target)}: the endpoint aliases {_plan(o.alias_target)}, which no "
                f"longer exists, and answers empty")
        if crashing:
            crash = o.crashes[crashing[0]]
            line += (f"; {', '.join(crashing)} crash-looping ({crash.get('exception')} at "
                     f"{crash.get('protocol_at') or crash.get('raised_at')})")
        return State("outage", line, "make repair points it at the newest plan (make reset starts over)")
    if youngest_s < STARTING_S and not crashing:
        return State("starting", f"starting: up {youngest_s:.0f} s, the endpoint does not answer yet",
                     f"make up waits for it (at most {STARTING_S:.0f} s)")
    why = "no alias for the endpoint" if o.alias_target is None else f"endpoint -> {_plan(o.alias_target)}"
    return State("broken", f"the endpoint answers empty ({why})"
                           + (f"; {', '.join(crashing)} crash-looping" if crashing else ""),
                 "make reset starts the lab over (make down removes it)")


# --- observing --------------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=20)


def observe(project: str, ports: Ports) -> Observation:
    o = Observation(now=time.time())
    present = _run("docker", "image", "inspect", "-f", "{{range .RepoTags}}{{.}} {{end}}", *IMAGES).stdout.split()
    o.images_missing = [i for i in IMAGES if i not in present]
    ids = _run("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
    if ids:
        for item in json.loads(_run("docker", "inspect", *ids).stdout or "[]"):
            service = item["Config"]["Labels"].get("com.docker.compose.service", "")
            started = item["State"].get("StartedAt", "")
            o.containers[service] = {"status": item["State"]["Status"], "restarts": int(item["RestartCount"]),
                                     "started_s": _age_s(started, o.now)}
            env = dict(entry.split("=", 1) for entry in item["Config"]["Env"] if "=" in entry)
            if service in ENACTORS:
                o.mode = env.get("ENACTOR_MODE", "?")
    if not o.containers:
        return o
    try:
        proxies = _http_json(f"http://127.0.0.1:{ports.toxiproxy}/proxies")
        o.toxics = {name: [t["name"] for t in p["toxics"]] for name, p in proxies.items() if p["toxics"]}
        o.disabled = sorted(name for name, p in proxies.items() if not p["enabled"])
    except (OSError, ValueError) as error:
        o.toxiproxy_error = str(error)
    o.endpoint_addresses = _addresses(ports.dns_auth)
    o.resolver_addresses = _addresses(ports.dns)
    try:
        alias = _http_json(f"http://127.0.0.1:{ports.admin}/v1/record-sets/{ENDPOINT}/ALIAS")
        o.alias_target = alias.get("target")
        if o.alias_target:
            o.alias_target_exists = _http_json(
                f"http://127.0.0.1:{ports.admin}/v1/record-sets/{o.alias_target}/A", missing_ok=True) is not None
    except (OSError, ValueError):
        pass
    o.crashes = _last_crashes(ports)
    return o


def _age_s(started: str, now: float) -> float:
    try:
        moment = time.mktime(time.strptime(started[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except ValueError:
        return float("inf")
    return max(0.0, now - moment)


def _http_json(url: str, *, missing_ok: bool = False) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "dnsrace-state"})
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if error.code == 404 and missing_ok:
            return None
        if error.code == 404:
            return {}
        raise


def _addresses(port: int) -> list[str] | None:
    try:
        response = dns.query.udp(dns.message.make_query(ENDPOINT, dns.rdatatype.A), "127.0.0.1", port=port,
                                 timeout=CALL_TIMEOUT_S)
    except (OSError, dns.exception.DNSException):
        return None
    return sorted(i.address for rrset in response.answer for i in rrset if rrset.rdtype == dns.rdatatype.A)


def _last_crashes(ports: Ports) -> dict[str, dict[str, Any]]:
    client = redis.Redis(host="127.0.0.1", port=ports.probe_redis, socket_timeout=CALL_TIMEOUT_S,
                         socket_connect_timeout=CALL_TIMEOUT_S)
    crashes: dict[str, dict[str, Any]] = {}
    try:
        for _id, fields in client.xrevrange(EVENTS_STREAM, count=300):
            event = json.loads(fields[b"event"])
            if event.get("kind") == "enactor_crashed" and event.get("service") not in crashes:
                crashes[event["service"]] = event.get("detail", {})
    except (redis.RedisError, OSError, ValueError):
        pass
    finally:
        client.close()
    return crashes


def heal(project: str, ports: Ports, o: Observation) -> list[str]:
    """Clear the faults a killed run left: every toxic removed and proxy enabled, containers unpaused."""
    healed = []
    if o.toxics or o.disabled:
        request = urllib.request.Request(f"http://127.0.0.1:{ports.toxiproxy}/reset", method="POST", data=b"",
                                         headers={"User-Agent": "dnsrace-state"})
        with urllib.request.urlopen(request, timeout=10):
            pass
        healed.append("every toxic removed and every proxy enabled")
    paused = [s for s, c in sorted(o.containers.items()) if c["status"] == "paused"]
    for service in paused:
        ids = _run("docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                   "--filter", f"label=com.docker.compose.service={service}").stdout.split()
        if ids:
            _run("docker", "unpause", *ids)
    if paused:
        healed.append(f"unpaused {', '.join(paused)}")
    return healed


# What a target needs before it can do its job: `running` = every container present and running.
REQUIREMENTS = {"running": ("healthy", "starting", "faults", "outage", "broken")}


def main() -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `make ps | head` is not an error
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.stack.state", description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    parser.add_argument("--json", action="store_true", help="the state as JSON")
    parser.add_argument("--require", choices=sorted(REQUIREMENTS),
                        help="exit 0 quietly when the lab is in such a state; else print the state line, and "
                             "the target (--target) that cannot run, and exit with the state's code")
    parser.add_argument("--target", default="this target", help="the make target asking (for --require)")
    parser.add_argument("--heal", action="store_true", help="clear the faults an interrupted run left behind")
    args = parser.parse_args()
    ports = Ports.from_env()
    observation = observe(args.project, ports)
    state = classify(observation)
    if args.heal and state.name == "faults":
        for what in heal(args.project, ports, observation):
            print(f"lab: healed a fault left behind: {what}")
        state = classify(observe(args.project, ports))
    if args.require:
        if state.name in REQUIREMENTS[args.require]:
            return 0
        print(f"{args.target}: cannot run now; {state}", file=sys.stderr)
        return state.code
    if args.json:
        print(json.dumps({"state": state.name, "line": state.line, "way_out": state.way_out, "code": state.code}))
    else:
        print(state)
    return state.code


if __name__ == "__main__":
    sys.exit(main())
