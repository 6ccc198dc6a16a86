"""dnsrace_enactor.crash.describe_crash: which line a responder is shown when an enactor dies.

Every exception here is really raised and caught, so its traceback is the one Python builds.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import types
from collections.abc import Callable
from typing import Any


from dnsrace.dns_admin_client import ChangeResult
from dnsrace.lock import Lease
from dnsrace.plans import Plan, Target
from dnsrace.records import AliasTargetMissing, ChangeBatch, RecordSet
from dnsrace_enactor import apply_loop, crash, legacy
from dnsrace_enactor.apply_loop import Enactor
from dnsrace_enactor.crash import describe_crash
from dnsrace_enactor.facts import Cleanup, Facts

EP = "dynamodb.us-east-1.lab.test"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
THIS_FILE = os.path.relpath(os.path.abspath(__file__), ROOT)
LEGACY_FILE = "services/enactor/dnsrace_enactor/legacy.py"
APPLY_LOOP_FILE = "services/enactor/dnsrace_enactor/apply_loop.py"


def line_of(function: Callable[..., Any], needle: str) -> int:
    """The line number, in its file, of the one line of `function` that contains `needle`."""
    lines, first = inspect.getsourcelines(function)
    matches = [first + offset for offset, line in enumerate(lines) if needle in line]
    assert len(matches) == 1, f"{needle!r} is on lines {matches}"
    return matches[0]


class RejectingAdmin:
    """Stands in for the HTTP client: the endpoint is at plan 2, and dns-admin refuses any batch with an
    alias in it, as it refused the rollback alias to a deleted plan."""

    async def get_record_set(self, name: str, type_: str) -> RecordSet | None:
        return RecordSet.alias(EP, f"plan-000002.{EP}") if (name, type_) == (EP, "ALIAS") else None

    async def submit(self, batch: ChangeBatch) -> ChangeResult:
        if any(change.record_set.type == "ALIAS" for change in batch.changes):
            raise AliasTargetMissing("change 1: rollback alias target does not exist", change_index=1)
        return ChangeResult("C000001", 1)

    async def list_record_sets(self) -> list[RecordSet]:
        return [RecordSet.alias(EP, f"plan-000002.{EP}")]


class FreeLock:
    async def try_acquire(self) -> Lease:
        return Lease("enactor-a", 9)

    async def release(self, lease: Lease) -> bool:
        return True


class SilentSink:
    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        pass


def selects_a_ghost(facts: Facts, applied: Plan, keep_generations: int) -> Cleanup:
    return Cleanup((7,))  # a generation that has no record set


SELECTS_A_GHOST = types.SimpleNamespace(**{**vars(legacy), "cleanup": selects_a_ghost})


class OnePlan:
    async def newest(self) -> Plan:
        return PLAN


def enactor() -> Enactor:
    return Enactor(service="enactor-a", plans=OnePlan(), admin=RejectingAdmin(), events=SilentSink(),  # type: ignore[arg-type]
                   lock_for=lambda endpoint: FreeLock(), keep_generations=3, plan_ttl_s=1,
                   lock_attempts_max=1, lock_backoff_base_ms=1, lock_backoff_cap_ms=1, poll_interval_ms=1,
                   rng=random.Random(0))


PLAN = Plan(12, (EP,), (Target("backend-1", "10.0.0.1", 1),), 1_700_000_000.0)


async def raised_by(coroutine: Any) -> BaseException:
    try:
        await coroutine
    except Exception as error:
        return error
    raise AssertionError("expected an exception")


def raise_outside() -> None:
    raise ValueError("nothing to do with the enactor")


async def test_an_error_left_to_escape_by_legacy_names_the_line_that_lets_it_escape() -> None:
    error = await raised_by(apply_loop.run_apply_loop(enactor(), legacy, stop=asyncio.Event()))  # type: ignore[arg-type]
    described = describe_crash(error)
    escape_line = line_of(legacy.on_error, "raise error")
    submit_line = line_of(apply_loop.point_endpoint, "await enactor.admin.submit(")
    raise_line = line_of(RejectingAdmin.submit, "raise AliasTargetMissing")
    assert described["exception"] == "AliasTargetMissing"
    assert described["message"] == "change 1: rollback alias target does not exist"
    assert described["protocol_at"] == f"{LEGACY_FILE}:{escape_line}"
    assert described["protocol_function"] == "on_error"
    assert described["protocol_line"] == "raise error"
    assert described["raised_at"] == f"{THIS_FILE}:{raise_line}"
    assert f"{LEGACY_FILE}:{escape_line} in on_error" in described["traceback"]
    assert described["traceback"][-2:] == [f"{APPLY_LOOP_FILE}:{submit_line} in point_endpoint",
                                           f"{THIS_FILE}:{raise_line} in submit"]


async def test_an_error_raised_inside_the_enactor_package_is_both_raised_at_and_protocol_at() -> None:
    error = await raised_by(apply_loop.cleanup(enactor(), SELECTS_A_GHOST, EP, PLAN))  # type: ignore[arg-type]
    described = describe_crash(error)
    line = line_of(apply_loop.cleanup, "record_set = facts.plan_sets[generation]")
    assert described["exception"] == "KeyError"
    assert described["raised_at"] == f"{APPLY_LOOP_FILE}:{line}"
    assert described["protocol_at"] == f"{APPLY_LOOP_FILE}:{line}"
    assert described["protocol_function"] == "cleanup"
    assert described["protocol_line"] == "record_set = facts.plan_sets[generation]"


def test_an_error_raised_entirely_outside_the_enactor_has_no_protocol_frame() -> None:
    try:
        raise_outside()
    except ValueError as error:
        described = describe_crash(error)
    raise_line = line_of(raise_outside, "raise ValueError")
    assert described["raised_at"] == f"{THIS_FILE}:{raise_line}"
    assert (described["protocol_at"], described["protocol_function"], described["protocol_line"]) == (None, None, None)
    assert described["message"] == "nothing to do with the enactor"
    assert described["traceback"][-1] == f"{THIS_FILE}:{raise_line} in raise_outside"


def test_an_error_never_raised_has_no_frames_at_all() -> None:
    described = describe_crash(RuntimeError("made, not raised"))
    assert described == {"exception": "RuntimeError", "message": "made, not raised", "raised_at": None,
                         "protocol_at": None, "protocol_function": None, "protocol_line": None, "traceback": []}


def test_a_sibling_directory_sharing_the_package_prefix_is_not_the_enactor() -> None:
    sibling = crash._PACKAGE_DIR + "_extras/hook.py"
    namespace: dict[str, Any] = {}
    exec(compile("def hook():\n    raise OSError('from a sibling directory')\n", sibling, "exec"), namespace)
    try:
        namespace["hook"]()
    except OSError as error:
        described = describe_crash(error)
    assert described["protocol_at"] is None
