#!/usr/bin/python3
"""make bench — numbers for the README, measured on the live stack (never asserted in tests).

1. `make up` time with images present (after `make down`), then the CPU the stack uses at rest (plans
   ticking every 2 s, no faults) for --idle-seconds, from the cgroups and /proc/stat (idle_cpu.py).
2. Plan propagation: for each of --plans plans, the time from the plan's creation (the planner's
   clock) to the first answer that carries it — at dns-admin (the endpoint batch accepted), at the
   authoritative view (127.0.0.1:1054) and at the resolver clients use (127.0.0.1:1053, cached).
   Plans on a steady tick all carry the same addresses, so a client cannot tell them apart; the
   benchmark makes each measured plan visible by flipping backend-3's health, which changes the
   answer, and times the plan the planner publishes for that change.
3. Resolver throughput with dnsperf: queries/s for the endpoint while plans churn (the normal stack)
   and on a static zone (enactors stopped), and their ratio.

4. `make up` on the running stack (a no-op), and one `make reproduce-outage` (legacy race) from it,
   reset included; a `make reset` afterwards leaves the stack serving in --mode.

Results: a Markdown table on stdout and in store/bench/<UTC time>/results.md (+ results.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import redis

from idle_cpu import measure as measure_idle_cpu

TOP = Path(__file__).resolve().parents[1]
ENDPOINT = "dynamodb.us-east-1.lab.test"
FLIP_TIMEOUT_S = 30.0
QUICK_COMMAND_TIMEOUT_S = 30.0   # `docker compose version`, `nproc`
STACK_COMMAND_TIMEOUT_S = 600.0  # `make up/down`, compose exec/stop/start: a cold build fits in it
POLL_S = 0.002


def compose_bin() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=QUICK_COMMAND_TIMEOUT_S).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"]


class Bench:
    def __init__(self, project: str, dns_port: int, auth_port: int, probe_port: int) -> None:
        self.project, self.dns_port, self.auth_port = project, dns_port, auth_port
        self.redis = redis.Redis(host="127.0.0.1", port=probe_port, socket_timeout=5, socket_connect_timeout=5)
        self.compose = [*compose_bin(), "-p", project, "-f", str(TOP / "docker-compose.yml")]

    def run(self, *args: str, timeout_s: float = STACK_COMMAND_TIMEOUT_S) -> str:
        return subprocess.run(args, cwd=TOP, capture_output=True, text=True, check=True, timeout=timeout_s).stdout

    def addresses(self, port: int) -> frozenset[str]:
        response = dns.query.udp(dns.message.make_query(ENDPOINT, dns.rdatatype.A), "127.0.0.1", port=port, timeout=1.0)
        return frozenset(i.address for rrset in response.answer for i in rrset if rrset.rdtype == dns.rdatatype.A)

    def newest_plan(self) -> dict[str, Any]:
        generation = int(self.redis.get("dnsrace:plans:latest"))
        return json.loads(self.redis.get(f"dnsrace:plan:{generation}"))

    def pointed_at(self, plan_id: str, since_seq: int) -> float | None:
        """When the endpoint was first pointed at plan_id (the earliest enactor's event; others may re-apply it)."""
        times = []
        for _id, fields in self.redis.xrevrange("dnsrace:events", count=500):
            if int(fields[b"seq"]) <= since_seq:
                break
            event = json.loads(fields[b"event"])
            if event["kind"] == "endpoint_pointed" and event["plan"] == plan_id:
                times.append(float(event["t"]))
        return min(times) if times else None

    def last_seq(self) -> int:
        return int(self.redis.get("dnsrace:events:seq") or 0)

    def flip(self, action: str) -> None:
        self.run(*self.compose, "exec", "-T", "backend-3", "python3", "-m", "dnsrace_backend.control", action)

    def one_propagation(self, action: str) -> dict[str, float]:
        before = self.newest_plan()["generation"]
        seq = self.last_seq()
        self.flip(action)
        deadline = time.monotonic() + FLIP_TIMEOUT_S
        plan = None
        while time.monotonic() < deadline:
            candidate = self.newest_plan()
            if candidate["generation"] > before and candidate["reason"] == "health changed":
                plan = candidate
                break
            time.sleep(POLL_S)
        if plan is None:
            raise RuntimeError(f"no plan for backend-3 {action} within {FLIP_TIMEOUT_S} s")
        expected = frozenset(t["address"] for t in plan["targets"])
        created = float(plan["created_at"])
        seen: dict[str, float] = {}
        while time.monotonic() < deadline and len(seen) < 2:
            now = time.time()
            if "auth" not in seen and self.addresses(self.auth_port) == expected:
                seen["auth"] = now
            if "resolver" not in seen and self.addresses(self.dns_port) == expected:
                seen["resolver"] = now
            time.sleep(POLL_S)
        if len(seen) < 2:
            raise RuntimeError(f"{plan['id']} did not reach the resolver within {FLIP_TIMEOUT_S} s")
        pointed = self.pointed_at(plan["id"], seq)
        result = {"auth_ms": (seen["auth"] - created) * 1000, "resolver_ms": (seen["resolver"] - created) * 1000}
        if pointed is not None:
            result["pointed_ms"] = (pointed - created) * 1000
        return result

    def dnsperf(self, seconds: int) -> float:
        queries = TOP / "store" / "bench" / "queries.txt"
        queries.parent.mkdir(parents=True, exist_ok=True)
        queries.write_text(f"{ENDPOINT} A\n")
        out = self.run("dnsperf", "-s", "127.0.0.1", "-p", str(self.dns_port), "-d", str(queries), "-l", str(seconds),
                       "-c", "4", "-T", "2", "-q", "200", timeout_s=seconds + 60)
        for line in out.splitlines():
            if "Queries per second:" in line:
                return float(line.split(":")[1])
        raise RuntimeError(f"no QPS in dnsperf output:\n{out}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", default="dnsrace")
    parser.add_argument("--dns-port", type=int, default=1053)
    parser.add_argument("--auth-port", type=int, default=1054)
    parser.add_argument("--probe-port", type=int, default=22000)
    parser.add_argument("--plans", type=int, default=100, help="plans to time (>= 100 for the README)")
    parser.add_argument("--dnsperf-seconds", type=int, default=15)
    parser.add_argument("--idle-seconds", type=int, default=60)
    args = parser.parse_args()

    make = ["make", "--no-print-directory", f"PROJECT={args.project}"]
    subprocess.run([*make, "down"], cwd=TOP, capture_output=True, check=True, timeout=STACK_COMMAND_TIMEOUT_S)
    started = time.monotonic()
    subprocess.run([*make, "up"], cwd=TOP, capture_output=True, check=True, timeout=STACK_COMMAND_TIMEOUT_S)
    up_s = time.monotonic() - started
    print(f"bench: make up (images present) {up_s:.1f} s", flush=True)
    time.sleep(10)  # let start-up settle: the idle figure is for a stack at rest, not one starting
    idle = measure_idle_cpu(args.project, args.idle_seconds)
    mode = os.environ.get("ENACTOR_MODE") or "legacy"
    print(f"bench: idle CPU ({mode}) over {args.idle_seconds} s: containers {idle['containers_pct_of_one_core']} %, "
          f"host {idle['host_pct_of_one_core']} % of one core", flush=True)

    bench = Bench(args.project, args.dns_port, args.auth_port, args.probe_port)
    deadline = time.monotonic() + 60
    while not (bench.redis.get("dnsrace:plans:latest") and bench.addresses(args.dns_port)):
        if time.monotonic() > deadline:
            raise RuntimeError("no plan reached the resolver within 60 s of make up")
        time.sleep(0.1)
    samples: list[dict[str, float]] = []
    for index in range(args.plans):
        samples.append(bench.one_propagation("fail" if index % 2 == 0 else "heal"))
        if (index + 1) % 10 == 0:
            print(f"bench: {index + 1}/{args.plans} plans timed", flush=True)
    if len(samples) % 2:
        bench.flip("heal")

    churn_qps = bench.dnsperf(args.dnsperf_seconds)
    bench.run(*bench.compose, "stop", "enactor-a", "enactor-b", "enactor-c")
    try:
        static_qps = bench.dnsperf(args.dnsperf_seconds)
    finally:
        bench.run(*bench.compose, "start", "enactor-a", "enactor-b", "enactor-c")

    # The commands a user waits on, timed as the user runs them: `make up` on a stack that already runs
    # (a no-op), and one reproduction from that running stack, reset included; then a reset, so the stack
    # is left serving.
    started = time.monotonic()
    subprocess.run([*make, "up"], cwd=TOP, capture_output=True, check=True, timeout=STACK_COMMAND_TIMEOUT_S)
    up_again_s = time.monotonic() - started
    started = time.monotonic()
    reproduced = subprocess.run([*make, "reproduce-outage", "MODE=legacy", "SCENARIO=race"], cwd=TOP,
                                capture_output=True, text=True, timeout=STACK_COMMAND_TIMEOUT_S)
    reproduce_s = time.monotonic() - started
    if reproduced.returncode != 0:
        print(reproduced.stdout[-2000:] + reproduced.stderr[-2000:], file=sys.stderr)
        raise RuntimeError("make reproduce-outage did not reproduce the outage")
    print(f"bench: make reproduce-outage (legacy race, reset included) {reproduce_s:.1f} s", flush=True)
    subprocess.run([*make, "reset", f"MODE={mode}"], cwd=TOP, capture_output=True, check=True,
                   timeout=STACK_COMMAND_TIMEOUT_S)
    load = Path("/proc/loadavg").read_text().split()[:3]

    def row(key: str, label: str) -> str:
        values = [s[key] for s in samples if key in s]
        return (f"| {label} | {len(values)} | {statistics.median(values):.0f} | {percentile(values, 99):.0f} "
                f"| {max(values):.0f} |")

    cpu = subprocess.run(["nproc"], capture_output=True, text=True, timeout=QUICK_COMMAND_TIMEOUT_S).stdout.strip()
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {cpu} cores, `make bench` (plans: {args.plans}).",
        "",
        "| plan created → … | plans | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|",
        row("pointed_ms", "endpoint batch accepted by dns-admin"),
        row("auth_ms", "first authoritative answer (127.0.0.1:1054)"),
        row("resolver_ms", "first resolver answer (127.0.0.1:1053, cached)"),
        "",
        "| measure | value |",
        "|---|---|",
        f"| resolver queries/s during plan churn (dnsperf, {args.dnsperf_seconds} s) | {churn_qps:,.0f} |",
        f"| resolver queries/s on a static zone (enactors stopped) | {static_qps:,.0f} |",
        f"| churn / static | {churn_qps / static_qps:.2f} |",
        f"| `make up` with images present (stack down) | {up_s:.1f} s |",
        f"| `make up` on a running stack | {up_again_s:.1f} s |",
        f"| `make reproduce-outage` from a running stack (legacy race, reset included) | {reproduce_s:.1f} s |",
        f"| load average when done (1, 5, 15 min) | {' '.join(load)} |",
        f"| CPU at rest ({mode} mode, plans every 2 s), the stack's containers (cgroups) "
        f"| {idle['containers_pct_of_one_core']} % of one core |",
        f"| CPU at rest, the whole host (/proc/stat, includes docker's own work) "
        f"| {idle['host_pct_of_one_core']} % of one core |",
    ]
    out_dir = TOP / "store" / "bench" / f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.md").write_text("\n".join(lines) + "\n")
    (out_dir / "results.json").write_text(json.dumps({"up_s": up_s, "up_again_s": up_again_s, "reproduce_s": reproduce_s, "load": load, "idle_cpu": idle, "mode": mode, "samples": samples, "churn_qps": churn_qps,
                                                      "static_qps": static_qps}, indent=1))
    print("\n".join(lines))
    print(f"\nbench: results in {out_dir.relative_to(TOP)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
