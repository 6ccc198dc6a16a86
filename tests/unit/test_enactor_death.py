"""An enactor that dies says why, whatever killed it (issue 27: Docker's restart count was the only witness).

dnsrace_enactor.__main__.run with its edges replaced: the apply loop raises what the test chooses, and
the event sink is a recorder. Every way out of the process leaves one event naming its cause.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from dnsrace_enactor import __main__ as enactor_main
from dnsrace_enactor.settings import Settings


class RecordingSink:
    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        RecordingSink.last = self

    last: RecordingSink

    async def start(self) -> None:
        pass

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append((kind, detail))

    async def close(self, flush_timeout_s: float = 5.0) -> None:
        pass


def settings() -> Settings:
    return Settings(service="enactor-a", mode="safe", zone="lab.test", redis_url="redis://127.0.0.1:1/0",
                    dns_admin_url="http://127.0.0.1:1", dns_admin_token="t", keep_generations=5,
                    poll_interval_ms=500, lock_ttl_ms=5_000, lock_attempts_max=30, lock_backoff_base_ms=100,
                    lock_backoff_cap_ms=3_000, redis_timeout_ms=1_000, dns_admin_timeout_ms=1_000, plan_ttl_s=1,
                    retry_count_max=10, self_check_host="127.0.0.1", self_check_port=1, self_check_timeout_ms=2_000)


@pytest.fixture
def dying_with(monkeypatch: pytest.MonkeyPatch) -> Any:
    async def ready(*_args: Any) -> None:
        pass

    monkeypatch.setattr(enactor_main, "RedisEventSink", RecordingSink)
    monkeypatch.setattr(enactor_main, "wait_for_dependencies", ready)

    def choose(error: BaseException) -> None:
        async def loop(*_args: Any, **_kwargs: Any) -> None:
            raise error
        monkeypatch.setattr(enactor_main, "run_apply_loop", loop)
    return choose


async def test_a_cancelled_error_that_escapes_is_still_a_crash_event_with_its_cause(dying_with: Any) -> None:
    dying_with(asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):       # the process still dies of it ...
        await enactor_main.run(settings())
    kinds = [kind for kind, _ in RecordingSink.last.events]
    assert kinds == ["enactor_crashed"]                # ... but never without a word
    detail = RecordingSink.last.events[0][1]
    assert (detail["fatal"], detail["exception"]) == ("CancelledError", "CancelledError")
    assert detail["raised_at"].startswith("tests/unit/test_enactor_death.py:")


async def test_an_error_that_escapes_is_a_crash_event_and_exit_status_1(dying_with: Any) -> None:
    dying_with(KeyError("boom"))
    assert await enactor_main.run(settings()) == 1
    (kind, detail), = RecordingSink.last.events
    assert (kind, detail["fatal"], detail["exception"]) == ("enactor_crashed", "exception", "KeyError")


async def test_dependencies_that_never_answer_are_said_and_exit_status_2(monkeypatch: pytest.MonkeyPatch) -> None:
    async def missing(*_args: Any) -> None:
        raise enactor_main.DependenciesMissing("gave up after 120 s waiting for redis (ConnectionError)")

    monkeypatch.setattr(enactor_main, "RedisEventSink", RecordingSink)
    monkeypatch.setattr(enactor_main, "wait_for_dependencies", missing)
    assert await enactor_main.run(settings()) == 2
    (kind, detail), = RecordingSink.last.events
    assert (kind, detail["fatal"]) == ("enactor_crashed", "dependencies")
    assert "waiting for redis" in detail["message"]


async def test_a_clean_stop_is_said_too(dying_with: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def stopped(*_args: Any, **_kwargs: Any) -> None:
        pass

    monkeypatch.setattr(enactor_main, "run_apply_loop", stopped)
    assert await enactor_main.run(settings()) == 0
    assert [kind for kind, _ in RecordingSink.last.events] == ["enactor_stopped"]
