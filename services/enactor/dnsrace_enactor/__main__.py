"""python3 -m dnsrace_enactor — run the apply loop in ENACTOR_MODE (legacy | safe) until stopped or crashed.

A crash is real: an exception that escapes the loop (legacy lets every error escape) is reported as
one `enactor_crashed` event (exception, file:line) and the process exits 1, so `docker ps` shows the
restart count climbing. Safe mode never lets one escape.

Whatever ends the process says why, in the event stream and on stderr, so the lab and the console see
the cause and not only Docker's restart count: a clean stop is `enactor_stopped`; an exception, a
BaseException included (a CancelledError, an exit), is `enactor_crashed` with `fatal` naming its
class of death. Only SIGKILL (the nemesis's, or the kernel's) leaves no word: Docker is its witness.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import redis.asyncio as aioredis

from dnsrace.config import ConfigError, exit_on_config_error
from dnsrace.deadline import within
from dnsrace.dns_admin_client import DnsAdminClient, DnsAdminUnavailable
from dnsrace.records import DnsAdminError
from dnsrace.events import RedisEventSink
from dnsrace.lock import EndpointLock
from dnsrace.plan_store import PlanStore

from . import legacy, safe
from .apply_loop import Enactor, Mode, run_apply_loop
from .crash import describe_crash
from .dns_check import EndpointResolver
from .settings import Settings

MODES: dict[str, Mode] = {"legacy": legacy, "safe": safe}

CRASH_EVENT_FLUSH_S = 15.0
DEPENDENCY_WAIT_S = 120.0   # how long a starting enactor waits for Redis and dns-admin (through its proxies)
DEPENDENCY_RETRY_S = 0.5
DEPENDENCY_CALL_TIMEOUT_S = 5.0


class DependenciesMissing(Exception):
    """Redis or dns-admin did not answer within DEPENDENCY_WAIT_S of the start: exit 2, saying so."""


async def wait_for_dependencies(redis: aioredis.Redis[bytes], admin: DnsAdminClient, service: str) -> None:
    """Start-up plumbing, the same in every mode: the stack starts all at once, so Redis and dns-admin
    may not answer yet. Wait for both within DEPENDENCY_WAIT_S, saying so; exit 2 past the bound."""
    deadline = time.monotonic() + DEPENDENCY_WAIT_S
    said = 0.0
    while True:
        missing = []
        try:
            # Through within(), like every Redis call: redis-py's own deadlines must not touch this task.
            await within(DEPENDENCY_CALL_TIMEOUT_S, redis.ping())
        except (aioredis.RedisError, OSError, TimeoutError) as error:
            missing.append(f"redis ({type(error).__name__})")
        try:
            await admin.list_record_sets()
        except (DnsAdminUnavailable, DnsAdminError) as error:
            missing.append(f"dns-admin ({type(error).__name__})")
        if not missing:
            return
        if time.monotonic() > deadline:
            raise DependenciesMissing(f"gave up after {DEPENDENCY_WAIT_S:.0f} s waiting for {', '.join(missing)}")
        if time.monotonic() - said > 5:
            print(f"{service}: waiting for {', '.join(missing)}", file=sys.stderr, flush=True)
            said = time.monotonic()
        await asyncio.sleep(DEPENDENCY_RETRY_S)


async def report_crash(events: RedisEventSink, service: str, error: BaseException, *, fatal: str) -> None:
    crash = describe_crash(error)
    print(f"{service}: CRASHED: {crash['exception']}: {crash['message']} "
          f"at {crash['protocol_at']} (raised at {crash['raised_at']})", file=sys.stderr, flush=True)
    await events.emit("enactor_crashed", fatal=fatal, **crash)


async def run(settings: Settings) -> int:
    redis_timeout_s = settings.redis_timeout_ms / 1000
    redis = aioredis.from_url(settings.redis_url, socket_timeout=redis_timeout_s, socket_connect_timeout=10.0)
    events = RedisEventSink(settings.redis_url, service=settings.service)
    await events.start()
    admin = DnsAdminClient(settings.dns_admin_url, zone=settings.zone, timeout_s=settings.dns_admin_timeout_ms / 1000,
                           client=settings.service, token=settings.dns_admin_token)
    locks: dict[str, EndpointLock] = {}

    def lock_for(endpoint: str) -> EndpointLock:
        if endpoint not in locks:
            locks[endpoint] = EndpointLock(redis, endpoint, holder=settings.service, ttl_ms=settings.lock_ttl_ms,
                                           timeout_s=redis_timeout_s)
        return locks[endpoint]

    enactor = Enactor(
        service=settings.service, plans=PlanStore(redis, zone=settings.zone, timeout_s=redis_timeout_s), admin=admin, events=events,
        lock_for=lock_for, keep_generations=settings.keep_generations, plan_ttl_s=settings.plan_ttl_s,
        lock_attempts_max=settings.lock_attempts_max, lock_backoff_base_ms=settings.lock_backoff_base_ms,
        lock_backoff_cap_ms=settings.lock_backoff_cap_ms, poll_interval_ms=settings.poll_interval_ms,
        resolver=EndpointResolver(settings.self_check_host, settings.self_check_port,
                                  timeout_s=settings.self_check_timeout_ms / 1000),
        retry_count_max=settings.retry_count_max,
        reported={"lock_ttl_ms": settings.lock_ttl_ms, "self_check_timeout_ms": settings.self_check_timeout_ms,
                  "poll_interval_ms": settings.poll_interval_ms},
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    status = 0
    try:
        await wait_for_dependencies(redis, admin, settings.service)
        await run_apply_loop(enactor, MODES[settings.mode], stop=stop)
        await events.emit("enactor_stopped")
    except DependenciesMissing as error:
        await report_crash(events, settings.service, error, fatal="dependencies")
        status = 2
    except Exception as error:  # only legacy lets an error escape the loop: it ends the process
        await report_crash(events, settings.service, error, fatal="exception")
        status = 1
    except BaseException as error:
        # Not an error of a pass: a CancelledError that escaped the loop's guard, an exit. Said all the
        # same (the process is still dying of it), so no restart is ever without a cause.
        await report_crash(events, settings.service, error, fatal=type(error).__name__)
        raise
    finally:
        await events.close(flush_timeout_s=CRASH_EVENT_FLUSH_S)
        await admin.close()
        await redis.close()
    return status


def main() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        exit_on_config_error("enactor", error)
    raise SystemExit(asyncio.run(run(settings)))


if __name__ == "__main__":
    main()
