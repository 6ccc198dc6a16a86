"""python3 -m dnsrace_lab.stack.repair — the operator's manual fix, through the console's API (POST /api/repair).

1. Ask dns-admin to point the endpoint at the newest plan whose record set still exists, and clear
   the rollback record: the same call as the console's Repair button, with the bearer token (the
   environment's DNSRACE_ADMIN_TOKEN, else .env). dns-admin builds the batch from its own zone, as a
   compare-and-swap (it DELETEs the aliases exactly as they are), and names the plan it chose; the lab
   confirms that plan (`expect_target`), so a zone that moved in between refuses the repair.
2. Measure how long clients stayed broken after the fix: the authoritative view (127.0.0.1:1054)
   answers at once, but the resolver clients use (127.0.0.1:1053) keeps serving its cached empty
   answer until that negative answer's TTL (the zone's SOA TTL) runs out. Every empty answer the
   resolver gives after the authoritative view answered is counted, with its SOA TTL: that is the lag,
   shown, not only timed.
3. Watch the enactors come back: each one's next restart finds a rollback it can build.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable

from dnsrace.records import DnsAdminError

from dnsrace_lab.stack.live import ENACTORS, Answer, Live, Ports, StepNotReached, poll

RECOVERY_BOUND_S = 60.0
ENACTOR_RETURN_BOUND_S = 120.0


async def run(project: str) -> int:
    async with Live(project, Ports.from_env()) as live:
        status = await live.admin.console_status()
        newest = status["now"]["newest_existing"]
        if newest is None:
            print("repair: no plan record set exists for the endpoint; nothing to point it at", file=sys.stderr)
            return 1
        target_plan = newest["plan"]
        current = status["now"]["endpoint"]
        print(f"repair: the endpoint points at {current['name'] if current else '(nothing)'}; "
              f"newest existing plan is {target_plan}")

        # What a client saw just before the fix (and what its resolver has cached).
        before = await live.query()
        print(f"repair: dig before the fix: {before.summary()}"
              + (f"; the resolver holds that empty answer {before.soa_ttl} s more" if before.soa_ttl else ""))

        try:
            result = await live.admin.repair(expect_target=target_plan)
        except DnsAdminError as refused:
            hint = " (the token: DNSRACE_ADMIN_TOKEN in the environment or .env)" if refused.http_status in (401, 403) else ""
            print(f"repair: refused by dns-admin ({refused.http_status} {refused.code}): {refused.message}{hint}",
                  file=sys.stderr)
            return 1
        fixed_at = time.monotonic()
        audit = result.get("audit") or {}
        print(f"repair: {result['message']} (POST /api/repair; audit row #{audit.get('seq')}, {audit.get('outcome')})")

        try:
            auth = await poll("the authoritative view answers", _answers(live, True, []), within_s=RECOVERY_BOUND_S,
                              every_s=0.05)
            auth_s = time.monotonic() - fixed_at
            empty_after_auth: list[Answer] = []
            resolver = await poll("the resolver answers", _answers(live, False, empty_after_auth),
                                  within_s=RECOVERY_BOUND_S, every_s=0.05)
            resolver_s = time.monotonic() - fixed_at
        except StepNotReached as missed:
            print(f"repair: NOT RECOVERED — {missed}", file=sys.stderr)
            return 1
        print(f"repair: authoritative (127.0.0.1:1054) answered after {auth_s:.1f} s: {auth.summary()}")
        ttls = [answer.soa_ttl for answer in empty_after_auth if answer.soa_ttl is not None]
        print(f"repair: the resolver answered empty {len(empty_after_auth)} times after the authoritative view "
              f"answered" + (f" (a cached negative answer, SOA TTL at most {max(ttls)} s)" if ttls else ""))
        print(f"repair: clients (127.0.0.1:1053) stayed broken for {resolver_s:.1f} s after the fix "
              f"(negative caching), then: {resolver.summary()}")
        await live.events.emit("clients_recovered", plan=target_plan, broken_after_repair_s=round(resolver_s, 3),
                               authoritative_after_s=round(auth_s, 3))

        since = await live.stream_position()
        try:
            back = await live.wait_event(since, "an enactor applies a plan again",
                                         lambda e: e.kind == "endpoint_pointed" and e.service in ENACTORS,
                                         within_s=ENACTOR_RETURN_BOUND_S)
            print(f"repair: automation is back: {back.service} pointed the endpoint at {back.plan} "
                  f"{time.monotonic() - fixed_at:.1f} s after the fix")
        except StepNotReached:
            print(f"repair: no enactor applied a plan within {ENACTOR_RETURN_BOUND_S:.0f} s (docker's restart "
                  "backoff grows with each crash); `make ps` shows them, they will come back")
    return 0


def _answers(live: Live, authoritative_view: bool,
             empty: list[Answer]) -> Callable[[], Awaitable[Answer | None]]:
    """A probe for poll(): the answer once it has addresses; each empty one before that goes to `empty`."""
    async def probe() -> Answer | None:
        answer = await live.query(authoritative_view=authoritative_view)
        if answer.addresses:
            return answer
        empty.append(answer)
        return None
    return probe


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.stack.repair", description=__doc__.splitlines()[0])
    parser.add_argument("--project", default=os.environ.get("PROJECT", "dnsrace"))
    return asyncio.run(run(parser.parse_args().project))


if __name__ == "__main__":
    sys.exit(main())
