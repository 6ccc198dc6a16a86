"""dnsrace.deadline: a library's deadline inside a call can no longer kill the service that made it.

The library here is the one that did it (issue 27): async_timeout 4.0.2, which redis-py 4.3 wraps
around every read and whose expiry cancels the current task without ever withdrawing the request. A
"leaky call" first lets such a deadline pass (redis-py's pool polls each connection with a deadline of
0) and then waits for an answer that never comes, so that the caller's own deadline expires too.

Each guard is tested at the component that had the bug (the self-check's resolver, the dns-admin and
Toxiproxy clients, the Redis stores, the apply loop, the planner's health check), and each test was
seen to fail against the code before the fix (asyncio.timeout around the call: CancelledError).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import async_timeout
import dns.asyncquery
import pytest
from aiohttp import web

from dnsrace import deadline
from dnsrace.deadline import StrayCancellation, sleep_or_stop, stray_cancellation, within
from dnsrace.dns_admin_client import DnsAdminClient, DnsAdminUnavailable
from dnsrace.plan_store import PlanStore
from dnsrace.toxiproxy import ToxiproxyClient, ToxiproxyError
from dnsrace_enactor import legacy, safe
from dnsrace_enactor.apply_loop import run_apply_loop
from dnsrace_enactor.dns_check import TIMED_OUT, EndpointResolver
from dnsrace_planner.health import Backend, observe
from enactor_fakes import FakePlans, Lab, plan

ROOT = Path(__file__).resolve().parents[2]
SHORT_S = 0.05


async def leak_a_cancel_request() -> None:
    """What redis-py 4.3 does when it hands out a pooled connection: a deadline of 0 that always passes.
    async_timeout 4.0.2 cancels the current task for it and never calls uncancel()."""
    try:
        async with async_timeout.timeout(0):
            await asyncio.sleep(1)
    except asyncio.TimeoutError:
        pass


async def leaky_call(*_args: Any, **_kwargs: Any) -> Any:
    """A library call that leaks a cancel request into the task it runs in, then never answers."""
    await leak_a_cancel_request()
    await asyncio.sleep(3600)


async def call_with_own_deadline(seconds: float) -> str:
    """A library call with a deadline of its own, as long as the caller's: the two expire together."""
    async with async_timeout.timeout(seconds):
        await asyncio.sleep(3600)
    return "unreachable"


def withdraw_all() -> None:
    task = asyncio.current_task()
    assert task is not None
    while task.cancelling():
        task.uncancel()


def cancel_requests() -> int:
    task = asyncio.current_task()
    assert task is not None
    return task.cancelling()


# --- the mechanism, and within() ---------------------------------------------------------------------


async def test_the_bug_asyncio_timeout_lets_a_cancelled_error_escape_after_a_library_leaked_one() -> None:
    # The pattern the services used before (kept here to show what within() replaces): it fails.
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(SHORT_S):
            await leaky_call()
    withdraw_all()   # (so pytest's own task goes on cleanly)


async def test_within_turns_the_same_call_into_a_timeout_and_leaves_the_caller_untouched() -> None:
    for _ in range(3):
        with pytest.raises(TimeoutError):
            await within(SHORT_S, leaky_call())
    assert cancel_requests() == 0


async def test_two_deadlines_of_the_same_length_expiring_together_never_leak_into_the_caller() -> None:
    for attempt in range(40):
        with pytest.raises(TimeoutError):
            await within(0.01, call_with_own_deadline(0.01))
        assert cancel_requests() == 0, f"attempt {attempt}"


async def test_within_returns_the_result_and_raises_the_calls_own_error() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fail() -> None:
        raise KeyError("boom")

    assert await within(1.0, answer()) == 42
    with pytest.raises(KeyError):
        await within(1.0, fail())
    with pytest.raises(ValueError):
        await within(0, asyncio.sleep(0))


async def test_a_call_that_ends_cancelled_by_a_library_inside_it_is_a_timeout() -> None:
    async def cancelled_inside() -> None:
        raise asyncio.CancelledError()

    with pytest.raises(TimeoutError, match="cancelled by a library"):
        await within(1.0, cancelled_inside())
    assert cancel_requests() == 0


async def test_the_callers_own_cancellation_stops_the_call_and_waits_for_its_clean_up() -> None:
    started, cleaned_up = asyncio.Event(), asyncio.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)     # a clean-up that takes a while (the nemesis healing a fault)
            cleaned_up.set()

    caller = asyncio.create_task(within(60.0, slow()))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert cleaned_up.is_set()   # before the caller's own clean-up could run


async def test_a_call_that_ignores_its_cancellation_is_abandoned_within_the_grace() -> None:
    async def stubborn() -> None:
        for _ in range(4):          # ignores three cancellations; bounded, so a broken within() cannot hang
            try:
                await asyncio.sleep(1.0)
            except asyncio.CancelledError:
                continue

    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await within(SHORT_S, stubborn(), cancel_grace_s=SHORT_S)
    assert loop.time() - started < 3.0   # a bound, not a timing: it did not wait for the call to end


async def test_sleep_or_stop_ends_early_when_stopped() -> None:
    stop = asyncio.Event()
    assert await sleep_or_stop(stop, 0.001) is False
    asyncio.get_running_loop().call_later(0.01, stop.set)
    assert await sleep_or_stop(stop, 60.0) is True
    assert cancel_requests() == 0


async def test_stray_cancellation_withdraws_every_request_and_says_how_many() -> None:
    await leak_a_cancel_request()
    await leak_a_cancel_request()
    assert cancel_requests() == 2
    stray = stray_cancellation("a test")
    assert isinstance(stray, StrayCancellation) and isinstance(stray, Exception)
    assert "2 cancel request(s) withdrawn" in str(stray)
    assert cancel_requests() == 0


# --- the components that had the bug -------------------------------------------------------------------


async def test_the_self_check_resolver_answers_timed_out_instead_of_dying(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 27's traceback: EndpointResolver.resolve -> dnspython -> CancelledError -> process exit.
    monkeypatch.setattr(dns.asyncquery, "tcp", leaky_call)
    resolver = EndpointResolver("localhost", 53, timeout_s=SHORT_S)
    for _ in range(3):
        answer = await resolver.resolve("dynamodb.us-east-1.lab.test")
        assert answer.rcode == TIMED_OUT and answer.addresses == ()
    assert cancel_requests() == 0


async def test_the_self_check_gives_dnspython_no_deadline_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    async def record(query: Any, where: str, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise OSError("no answer")

    monkeypatch.setattr(dns.asyncquery, "tcp", record)
    await EndpointResolver("localhost", 53, timeout_s=1.0).resolve("dynamodb.us-east-1.lab.test")
    assert seen["timeout"] is None   # one deadline per call: within()'s


@pytest.fixture
async def silent_server() -> Any:
    """A real HTTP server on loopback that takes every request and never answers it."""
    done = asyncio.Event()

    async def never(_request: web.Request) -> web.Response:
        await done.wait()    # no answer until the test is over
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", never)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    done.set()
    await asyncio.sleep(0.01)
    await runner.cleanup()


async def test_the_dns_admin_client_says_unavailable_even_in_a_task_a_library_left_cancelled(
        silent_server: str) -> None:
    # The caller's task carries a request a library never withdrew (as the enactor's did after one
    # direct redis-py call); the client's deadline expiring must still be "no answer", not a death.
    await leak_a_cancel_request()
    client = DnsAdminClient(silent_server, zone="lab.test", timeout_s=SHORT_S, client="enactor-a", token="t")
    try:
        for _ in range(2):
            with pytest.raises(DnsAdminUnavailable):
                await client.list_record_sets()
    finally:
        await client.close()
    assert cancel_requests() == 1   # the test's own leak, untouched: within() never adds or removes one
    withdraw_all()


async def test_the_toxiproxy_client_says_no_answer_even_in_a_task_a_library_left_cancelled(silent_server: str) -> None:
    await leak_a_cancel_request()
    client = ToxiproxyClient(silent_server, timeout_s=SHORT_S)
    try:
        with pytest.raises(ToxiproxyError, match="no answer"):
            await client.proxies()
        with pytest.raises(ToxiproxyError, match="no answer"):
            await client.version()
    finally:
        await client.close()
    withdraw_all()


async def test_the_planners_health_check_is_unhealthy_not_dead(silent_server: str) -> None:
    import aiohttp

    await leak_a_cancel_request()
    port = int(silent_server.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as session:
        seen = await observe(session, Backend("localhost", port), timeout_s=SHORT_S)
    assert (seen.healthy, seen.why.split(":")[0]) == (False, "TimeoutError")
    withdraw_all()


class LeakyRedis:
    """Every call a redis-py call that leaks a cancel request, then never answers."""

    def __getattr__(self, _name: str) -> Any:
        return leaky_call

    def register_script(self, _script: str) -> Any:
        return leaky_call


async def test_the_plan_store_times_out_and_leaves_the_caller_untouched() -> None:
    store = PlanStore(LeakyRedis(), zone="lab.test", timeout_s=SHORT_S)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await store.newest()
    assert cancel_requests() == 0


# --- the loops ---------------------------------------------------------------------------------------


async def test_a_stray_cancellation_in_a_safe_pass_is_an_apply_failure_and_the_loop_goes_on(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dnsrace_enactor import apply_loop
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(tmp_path / "alive"))
    lab, stop = Lab(), asyncio.Event()
    await leak_a_cancel_request()          # as a library would have left it
    plans = FakePlans([asyncio.CancelledError(), plan(1)], stop)
    enactor, events, _ = lab.enactor(plans=plans)
    await run_apply_loop(enactor, safe, stop=stop)
    failed = events.of("apply_failed")
    assert len(failed) == 1 and failed[0][3]["error"].startswith("StrayCancellation: ")
    assert "check_passed" in events.kinds()                # the next pass applied plan 1
    assert cancel_requests() == 0                          # withdrawn, so later deadlines work


async def test_a_stray_cancellation_kills_legacy_as_a_named_error_not_silently(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dnsrace_enactor import apply_loop
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(tmp_path / "alive"))
    lab, stop = Lab(), asyncio.Event()
    enactor, _, _ = lab.enactor(plans=FakePlans([asyncio.CancelledError(), plan(1)], stop))
    with pytest.raises(StrayCancellation):   # an Exception: __main__ reports it as enactor_crashed
        await run_apply_loop(enactor, legacy, stop=stop)


async def test_a_cancellation_while_stopping_is_the_shutdown_and_passes_through(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dnsrace_enactor import apply_loop
    monkeypatch.setattr(apply_loop, "ALIVE_FILE", str(tmp_path / "alive"))
    lab, stop = Lab(), asyncio.Event()
    # FakePlans sets `stop` as it hands out its last answer: the cancellation arrives while stopping.
    enactor, _, _ = lab.enactor(plans=FakePlans([asyncio.CancelledError()], stop))
    with pytest.raises(asyncio.CancelledError):
        await run_apply_loop(enactor, safe, stop=stop)


# --- the rule, over the source tree --------------------------------------------------------------------

# A deadline put on the current task (asyncio.timeout) or a second deadline around a call
# (asyncio.wait_for) is how issue 27 happened; every deadline goes through dnsrace.deadline.
FORBIDDEN = re.compile(r"\basyncio\.(timeout|timeout_at|wait_for)\(|\basync_timeout\b")


def test_no_service_or_lab_module_puts_a_deadline_on_its_own_task() -> None:
    offenders = []
    for folder in ("services", "model", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == Path(deadline.__file__).resolve():
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if FORBIDDEN.search(code):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "use dnsrace.deadline.within / sleep_or_stop:\n" + "\n".join(offenders)


async def test_what_a_call_took_for_a_caller_that_is_gone_is_given_back() -> None:
    lock = asyncio.Lock()
    await lock.acquire()                      # held by someone else: the call below has to wait
    caller = asyncio.create_task(within(60.0, lock.acquire(), undo=lambda _taken: lock.release()))
    await asyncio.sleep(0.01)
    lock.release()                            # granted to the call's task ...
    caller.cancel()                           # ... as its caller is cancelled
    with pytest.raises(asyncio.CancelledError):
        await caller
    await asyncio.sleep(0.01)
    assert not lock.locked()                  # given back: nobody is left holding it

    await lock.acquire()
    with pytest.raises(TimeoutError):         # the deadline passes first; the grant comes later
        await within(SHORT_S, lock.acquire(), undo=lambda _taken: lock.release(), cancel_grace_s=0.001)
    lock.release()
    await asyncio.sleep(0.01)
    assert not lock.locked()
