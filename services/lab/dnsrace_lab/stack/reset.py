"""python3 -m dnsrace_lab.stack.reset --mode legacy|safe — the lab back to its first second, in place.

A run of `make reproduce-outage` (or of a test) leaves plans, locks, events, a broken zone, crashed
enactors and perhaps a toxic behind. A full `down -v` + `up` clears all of it but recreates eleven
containers and three networks (about 35 s here); this clears the same state in the running containers:

    1. unpause every paused container, and stop the writers (planner, enactors) so nothing writes
       during the wipe; stop dns-admin and CoreDNS too; switch every backend back to healthy
    2. Toxiproxy: every toxic removed, every proxy enabled (its API's reset)
    3. Redis: FLUSHALL (plans, the newest-plan pointer, the generation counter, locks and their fencing
       counter, the event stream), through redis-cli inside its container, not through a proxy
    4. dns-admin's volumes: its store (zone, audit, change counter) and the rendered zone file deleted
    5. start them all again: dns-admin renders an empty zone, CoreDNS starts with an empty cache (a
       restart is the only way to flush it), restart counts start from zero
    6. wait until the endpoint answers (infra/wait-ready.sh), as `make up` does

It resets in place only when every service's container exists and the enactors already run the mode
asked for; otherwise it exits 3 and `make reset` falls back to `down -v` + `up`. (`make reset` first
runs `compose up -d`, which recreates the containers whose image, configuration or mode changed, so a
reset never leaves old code or another mode running.)
Exit status: 0 reset and serving; 1 failed (the message names the step); 3 cannot reset in place.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from dnsrace.toxiproxy import ToxiproxyClient

from dnsrace_lab.stack.names import APP_IMAGE, BACKENDS, ENACTORS, SERVICES, TOP, Ports

# What keeps state in memory or writes it. Redis and Toxiproxy are cleared through their own
# interfaces instead (a Redis restart would replay its append-only file), and the backends, whose only
# state is a health switch, are switched back to healthy: each restart of a Python service costs a
# second of CPU, and a reset on two cores is mostly that.
# The storage node keeps its table in memory: a restart empties it; the lease manager then starts with
# no leases and brings the droplets in over one renewal period; the launcher writes to Redis every second.
# Network Manager and the load balancer's control keep their books in memory: restarted, they start from a
# healthy fleet (the control puts every target back in service in HAProxy as it starts); the clients write
# their figures every second, so they are stopped while Redis is flushed, as the launcher is.
RESTARTED = ("planner", *ENACTORS, "dns-admin", "coredns", "dynamodb", "dwfm", "launcher", "netmgr", "nlb-control",
             "clients")
HEAL_BACKEND = "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'POST /admin/heal HTTP/1.0\\r\\nContent-Length: 0\\r\\n\\r\\n' >&3 && read -r status <&3 && [[ $status == *' 200 '* ]]"
DOCKER_TIMEOUT_S = 60.0
READY_TIMEOUT_S = 120
BACKEND_WAIT_S = 30.0
EXIT_CANNOT_RESET_IN_PLACE = 3


class ResetFailed(Exception):
    """A step of the reset did not complete; the message names it."""


@dataclass(frozen=True)
class Container:
    id: str
    service: str
    state: str      # docker's: running, paused, restarting, exited, created, dead
    mode: str       # ENACTOR_MODE it was created with ("" for services without one)
    dwfm_mode: str = ""   # DWFM_MODE likewise (the lease manager's design)
    nlb_mode: str = ""    # NLB_MODE likewise (the load balancer's control)
    netmgr_mode: str = "" # NETMGR_MODE likewise (Network Manager's admission)


def docker(*args: str, timeout_s: float = DOCKER_TIMEOUT_S) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
    if result.returncode != 0:
        raise ResetFailed(f"docker {' '.join(args[:2])}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout


def containers(project: str) -> dict[str, Container]:
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").split()
    if not ids:
        return {}
    found: dict[str, Container] = {}
    for item in json.loads(docker("inspect", *ids)):
        service = item["Config"]["Labels"].get("com.docker.compose.service", "")
        env = dict(entry.split("=", 1) for entry in item["Config"]["Env"] if "=" in entry)
        found[service] = Container(item["Id"][:12], service, item["State"]["Status"], env.get("ENACTOR_MODE", ""),
                                   env.get("DWFM_MODE", ""), env.get("NLB_MODE", ""), env.get("NETMGR_MODE", ""))
    return found


def why_not_in_place(found: dict[str, Container], mode: str) -> str | None:
    """None when the stack can be reset in place into `mode`; else the reason (pure)."""
    missing = [service for service in SERVICES if service not in found]
    if missing:
        return f"no container for {', '.join(missing)}"
    modes = {found[name].mode for name in ENACTORS}
    if modes != {mode}:
        return f"the enactors run mode {'/'.join(sorted(modes))}, not {mode} (their containers must be recreated)"
    return None


def say(text: str, started: float) -> None:
    print(f"reset: [{time.monotonic() - started:4.1f} s] {text}", flush=True)


async def reset_in_place(project: str, ports: Ports, found: dict[str, Container]) -> None:
    started = time.monotonic()

    def run(*args: str) -> Awaitable[str]:
        return asyncio.to_thread(docker, *args)

    paused = [c.id for c in found.values() if c.state == "paused"]
    if paused:
        await run("unpause", *paused)
        say(f"unpaused {len(paused)} container(s) a run left paused", started)
    # `stop -t 0`: SIGKILL at once; the state they hold is about to be wiped anyway. It also ends an
    # enactor's crash loop (`restarting`), which `kill` refuses to touch. One `docker` per container,
    # side by side: each start or stop costs 2-3 s of docker's own work here, and `docker stop A B C`
    # does them one after the other. Toxiproxy is reset meanwhile (no writer needs to be gone for that).
    try:
        await asyncio.gather(*(run("stop", "-t", "0", found[name].id) for name in RESTARTED),
                             *(heal_backend(found[name].id) for name in BACKENDS),
                             reset_toxiproxy(ports))
        say("stopped the planner, the enactors, dns-admin, CoreDNS, DynamoDB, the lease manager, the launcher, "
            "Network Manager, the load balancer's control and the clients; "
            "every backend healthy; "
            "Toxiproxy: every toxic removed, every proxy enabled", started)

        # The writers are gone: now the state they wrote. dns-admin's volumes are wiped through a
        # throwaway container that mounts them as dns-admin does.
        await asyncio.gather(
            run("exec", found["redis"].id, "redis-cli", "FLUSHALL"),
            run("run", "--rm", "--volumes-from", found["dns-admin"].id, "--entrypoint", "bash", APP_IMAGE,
                "-c", "rm -rf /data/* /data/.[!.]* /zones/* /zones/.[!.]*"))
        keys = docker("exec", found["redis"].id, "redis-cli", "DBSIZE").strip()
        if keys != "0":
            raise ResetFailed(f"Redis holds {keys} keys after FLUSHALL")
        say("Redis: plans, locks, fencing and generation counters, events flushed; "
            "dns-admin: its store (zone, audit, change counter) and the rendered zone file deleted", started)
    finally:
        # Whatever failed above, the lab is not left stopped: what was stopped is started again.
        await asyncio.gather(*(run("start", found[name].id) for name in RESTARTED))
    say("started them again; waiting until the endpoint answers", started)
    ready = subprocess.run(["bash", str(TOP / "infra/wait-ready.sh"), project, str(ports.dns), str(ports.dns_auth),
                            str(READY_TIMEOUT_S)], timeout=READY_TIMEOUT_S + 30)
    if ready.returncode != 0:
        raise ResetFailed("the stack did not serve the endpoint after the reset (see above)")
    say("serving: the lab is as it was at its first second", started)


async def heal_backend(container: str) -> None:
    """Switch a backend back to healthy; a backend compose has just (re)created may not listen yet."""
    deadline = time.monotonic() + BACKEND_WAIT_S
    while True:
        try:
            await asyncio.to_thread(docker, "exec", container, "bash", "-c", HEAL_BACKEND)
            return
        except ResetFailed:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def reset_toxiproxy(ports: Ports) -> None:
    async with ToxiproxyClient(f"http://127.0.0.1:{ports.toxiproxy}", timeout_s=5.0) as toxiproxy:
        await toxiproxy.reset()
        leftover = {name: p.toxics for name, p in (await toxiproxy.proxies()).items() if p.toxics or not p.enabled}
    if leftover:
        raise ResetFailed(f"Toxiproxy still has toxics or disabled proxies after its reset: {leftover}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.stack.reset", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("legacy", "safe"), required=True)
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    args = parser.parse_args()
    try:
        found = containers(args.project)
        reason = why_not_in_place(found, args.mode)
        if reason is not None:
            print(f"reset: not in place: {reason}", file=sys.stderr)
            return EXIT_CANNOT_RESET_IN_PLACE
        asyncio.run(reset_in_place(args.project, Ports.from_env(), found))
    except (ResetFailed, subprocess.TimeoutExpired, OSError) as failure:
        print(f"reset: failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
