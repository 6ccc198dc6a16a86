"""python3 -m dnsrace_ec2.simulate — the lease manager's books (lease_book.py) in simulated time.

The same LeaseBook and policy rows dwfm runs, driven by a discrete-event loop instead of real workers:
c workers, each operation taking `op_s` (μ = c / op_s), DynamoDB unreachable during [outage_from,
outage_to) (an operation then fails after `fail_s`, botocore's retries included). What it predicts is
what the real sweep measures (bench/dwfm_sweep.py): whether and when the leases come back after DNS does.

    python3 -m dnsrace_ec2.simulate --droplets 1000 --mode legacy
"""

from __future__ import annotations

import argparse
import heapq
import json
from dataclasses import dataclass

from dnsrace_ec2.lease_book import LeaseBook, LeaseParams, Outcome
from dnsrace_ec2.lease_policy import POLICIES, LeasePolicy


@dataclass(frozen=True)
class Fault:
    outage_from: float
    outage_to: float
    fail_s: float = 1.5


def simulate(params: LeaseParams, policy: LeasePolicy, *, op_s: float, fault: Fault, until: float,
             tick_s: float = 0.1, leases: dict[int, float] | None = None) -> list[dict[str, float]]:
    """One figures line a second, as dwfm would emit them (a subset of take_window's keys). `leases`:
    the expiries a restarted manager finds in the table (lease_book.LeaseBook)."""
    book = LeaseBook(params, policy, 0.0, leases)
    free_at = [0.0] * params.workers
    running: list[tuple[float, int, object, Outcome]] = []
    lines: list[dict[str, float]] = []
    now, next_line = 0.0, 1.0
    while now < until:
        while running and running[0][0] <= now:
            done, _k, attempt, outcome = heapq.heappop(running)
            book.finished(attempt, done, outcome, op_s=op_s, expiry=done + params.ttl_s)  # type: ignore[arg-type]
        book.tick(now)
        for k in range(params.workers):   # each worker back to back within the tick, as a real one is
            while free_at[k] < now + tick_s:
                start = max(free_at[k], now)
                attempt = book.next_attempt(start)
                if attempt is None:
                    free_at[k] = now + tick_s
                    break
                down = fault.outage_from <= start < fault.outage_to
                free_at[k] = start + (fault.fail_s if down else op_s)
                heapq.heappush(running, (free_at[k], id(attempt), attempt, Outcome.DNS if down else Outcome.OK))
        if now >= next_line:
            w = book.take_window(now, 1.0)
            lines.append({"t": round(now, 1), "leased_fraction": w["leased_fraction"], "queue": w["queue"],
                          "goodput_per_s": w["goodput_per_s"], "head_age_s": w["head_age_s"]})
            next_line += 1.0
        now = round(now + tick_s, 6)
    return lines


def recovery_s(lines: list[dict[str, float]], after: float, fraction: float = 0.95) -> float | None:
    """Seconds from `after` until the leased fraction first reaches `fraction`; None if it never does."""
    return next((line["t"] - after for line in lines if line["t"] >= after and line["leased_fraction"] >= fraction),
                None)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_ec2.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=sorted(POLICIES), default="legacy")
    parser.add_argument("--droplets", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--op-ms", type=float, default=75.0)
    parser.add_argument("--timeout-s", type=float, default=2.0)
    parser.add_argument("--renew-s", type=float, default=30.0)
    parser.add_argument("--ttl-s", type=float, default=45.0)
    parser.add_argument("--outage", type=float, nargs=2, default=(60.0, 120.0), metavar=("FROM", "TO"))
    parser.add_argument("--until", type=float, default=400.0)
    parser.add_argument("--lines", action="store_true", help="also print the figures (every 40th second)")
    args = parser.parse_args()
    params = LeaseParams(args.droplets, args.workers, args.renew_s, args.ttl_s, args.timeout_s, args.op_ms / 1000)
    lines = simulate(params, POLICIES[args.mode], op_s=args.op_ms / 1000, fault=Fault(*args.outage), until=args.until)
    mu_tau = args.workers / (args.op_ms / 1000) * args.timeout_s
    print(json.dumps({"mode": args.mode, "N/(mu*tau)": round(args.droplets / mu_tau, 2),
                      "recovery_s": recovery_s(lines, args.outage[1])}))
    if args.lines:
        for line in lines[:: max(1, len(lines) // 40)]:
            print(json.dumps(line))


if __name__ == "__main__":
    main()
