"""Trace validation (model/dnsrace_model/trace.py): recorded runs checked against the Promela model.

Each check asks spin whether the events are a behaviour of model/dnsrace.pml. Accepted: recorded
runs of both modes (tests/unit/data/traces, cut from store/reproduce-outage histories). Rejected,
naming the event: the same runs with one event changed or removed, and the drift test: the real apply
loop run with a safe mode whose cleanup lost its in-batch reference check.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from dnsrace.events import Event
from dnsrace.lock import Lease, LockRefused
from dnsrace.plans import Plan, Target
from dnsrace.records import Change, ChangeBatch, ChangeConflict
from dnsrace.timeline import _SENTENCES
from dnsrace.zone_history import event_changes
from dnsrace_enactor import legacy, safe
from dnsrace_enactor.apply_loop import Enactor, one_pass

from enactor_fakes import EP, FakeAdmin, FakeResolver

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "model"))
from dnsrace_model import codes, trace  # noqa: E402  (model/ is not a service package)

DATA = Path(__file__).parent / "data" / "traces"
RUNS = {  # recorded with `make reproduce-outage`; the events of each, and the run's settings
    "legacy-race": "20261129T144656Z-legacy-race",
    "legacy-manual-delete": "20261129T144846Z-legacy-manual-delete",   # starts mid-pass
    "safe-race": "20261129T152631Z-safe-race",
    "safe-manual-delete": "20261129T152732Z-safe-manual-delete",
}


@pytest.fixture(autouse=True)
def spin_installed() -> None:
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        pytest.fail("spin and gcc are needed (infra/host-deps.sh installs them; make test runs it)")


def recorded(name: str) -> tuple[list[Event], trace.Settings]:
    with gzip.open(DATA / f"{RUNS[name]}.jsonl.gz", "rt") as lines:
        events, run = trace.load_events(lines)
    return events, trace.settings_for(events, run)


def changed(events: list[Event], seq: int, **detail: Any) -> list[Event]:
    return [Event(e.t, e.service, e.kind, e.plan, e.token, {**e.detail, **detail}, e.seq) if e.seq == seq else e
            for e in events]


# --- the mapping ---------------------------------------------------------------------------------------

def test_every_event_kind_of_the_code_has_a_decision_in_the_mapping_table() -> None:
    # A new kind in the services (every kind has a sentence in the timeline) must be mapped, skipped or
    # declared unmodelled here, or this fails: the model and the code keep one vocabulary.
    decided = set(trace.MAPPED) | set(trace.SKIPPED) | set(trace.UNMODELLED)
    assert set(_SENTENCES) - decided == set()
    assert set(trace.MAPPED) == set(codes.EVENTS), "the mapped kinds are exactly the model's events"
    assert not set(trace.MAPPED) & set(trace.SKIPPED) and not set(trace.SKIPPED) & set(trace.UNMODELLED)


def test_a_recording_that_begins_mid_pass_is_checked_from_the_first_moment_all_enactors_are_between_passes() -> None:
    events, settings = recorded("legacy-manual-delete")
    model = trace.build(events, settings)
    assert model.dropped and model.dropped[0].seq == min(e.seq or 0 for e in events)
    first = min(model.steps, key=lambda s: s.rank).event
    assert first.seq == 1243 and first.kind == "plan_created"


# --- recorded runs: accepted, and rejected once changed -----------------------------------------------

@pytest.mark.parametrize("name", list(RUNS))
def test_a_recorded_run_is_a_behaviour_of_the_model(name: str) -> None:
    events, settings = recorded(name)
    verdict = trace.check(trace.build(events, settings))
    assert verdict.valid is True, (verdict.why, verdict.first_untaken and trace.describe(verdict.first_untaken))


def test_a_history_recorded_before_dns_admin_structured_its_changes_is_refused_naming_the_event() -> None:
    events, settings = recorded("legacy-race")
    steps = sorted(trace.build(events, settings).steps, key=lambda step: step.rank)
    accepted = next(step.event for step in steps if step.event.kind == "batch_accepted")
    as_text = changed(events, accepted.seq or 0, changes=accepted.detail["described"])     # the old shape
    with pytest.raises(trace.TraceError, match=rf"event #{accepted.seq} .*recorded before dns-admin's events "
                                               r"carried structured changes"):
        trace.build(as_text, settings)
    verdict = trace.check_events(as_text, safe=False)
    assert verdict.valid is None and f"event #{accepted.seq}" in verdict.why
    unnamed = [Event(e.t, e.service, e.kind, e.plan, e.token, {k: v for k, v in e.detail.items() if k != "change"},
                     e.seq) if e.seq == 447 else e for e in events]    # a refusal without its structured change
    with pytest.raises(trace.TraceError, match="event #447 "):
        trace.build(unnamed, settings)


def test_a_rollback_the_model_cannot_produce_is_named() -> None:
    events, settings = recorded("legacy-race")
    # enactor-a's backwards write: legacy's rollback aliases the live plan it re-read (plan-000022)
    verdict = trace.check(trace.build(changed(events, 428, rollback="plan-000021"), settings))
    assert verdict.valid is False and verdict.first_untaken is not None
    assert verdict.first_untaken.event.seq == 428


def test_a_crash_with_no_deletion_before_it_is_named() -> None:
    events, settings = recorded("legacy-race")
    # Without the cleanup that deleted the live plan (its batch and its event), nothing explains why
    # the next apply's rollback change is refused.
    verdict = trace.check(trace.build([e for e in events if e.seq not in (434, 436)], settings))
    assert verdict.valid is False and verdict.first_untaken is not None
    assert verdict.first_untaken.event.kind == "batch_rejected" and verdict.first_untaken.event.seq == 447


def test_a_legacy_run_is_not_a_behaviour_of_the_safe_model() -> None:
    events, settings = recorded("legacy-race")
    verdict = trace.check(trace.build(events, trace.Settings(safe=True, keep_generations=settings.keep_generations)))
    assert verdict.valid is False
    assert verdict.first_untaken is not None and verdict.first_untaken.event.kind == "batch_accepted"


# --- drift: the real apply loop, with a safe mode changed on purpose ----------------------------------

class Recording:
    """What the stack would record: every service's events, in order, with dns-admin's batch events."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def add(self, service: str, kind: str, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append(Event(len(self.events) * 0.001, service, kind, plan, token, detail, len(self.events) + 1))


class Sink:
    def __init__(self, recording: Recording, service: str) -> None:
        self.recording, self.service = recording, service

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.recording.add(self.service, kind, plan, token, **detail)


class Admin(FakeAdmin):
    """The fake zone (dns-admin's own rules), emitting dns-admin's batch events as the engine does."""

    def __init__(self, recording: Recording) -> None:
        super().__init__()
        self.recording = recording

    async def submit(self, batch: ChangeBatch):  # type: ignore[no-untyped-def]
        try:
            result = await super().submit(batch)
        except ChangeConflict as error:
            failing = batch.changes[error.change_index] if error.change_index is not None else None
            self.recording.add("dns-admin", "batch_rejected", error=error.code, message=error.message,
                               change_index=error.change_index, change=failing.to_json() if failing else None,
                               client=batch.client, comment=batch.comment)
            raise
        self.recording.add("dns-admin", "batch_accepted", change_id=f"change-{self.serial:06d}", client=batch.client,
                           comment=batch.comment, **event_changes(batch.changes))
        return result


class Lock:
    """One endpoint lock for every enactor: SET NX with a token counter, as lock.py's script does."""

    def __init__(self) -> None:
        self.held: Lease | None = None
        self.token = 0

    def handle(self, service: str) -> Any:
        lock = self

        class Handle:
            async def try_acquire(self) -> Lease | LockRefused:
                if lock.held is not None:
                    return LockRefused(lock.held.value)
                lock.token += 1
                lock.held = Lease(service, lock.token)
                return lock.held

            async def release(self, lease: Lease) -> bool:
                if lock.held == lease:
                    lock.held = None
                    return True
                return False

        return Handle()


class Plans:
    def __init__(self) -> None:
        self.plan: Plan | None = None

    async def newest(self) -> Plan | None:
        return self.plan


def run_enactors(mode: types.ModuleType | types.SimpleNamespace, plans_count: int) -> list[Event]:
    """The planner publishes plans one by one; after each, enactor-a then enactor-b run one real pass."""
    recording, plans, lock = Recording(), Plans(), Lock()
    admin = Admin(recording)

    def enactor(service: str) -> Enactor:
        return Enactor(service=service, plans=plans, admin=admin, events=Sink(recording, service),  # type: ignore[arg-type]
                       lock_for=lambda endpoint: lock.handle(service), keep_generations=1, plan_ttl_s=1,
                       lock_attempts_max=30, lock_backoff_base_ms=1, lock_backoff_cap_ms=1, poll_interval_ms=1,
                       resolver=FakeResolver(admin), retry_count_max=10)  # type: ignore[arg-type]

    async def scenario() -> None:
        a, b = enactor("enactor-a"), enactor("enactor-b")
        for generation in range(1, plans_count + 1):
            plans.plan = Plan(generation, (EP,), (Target("backend-1", "10.0.0.1", 1),), 1_700_000_000.0 + generation)
            recording.add("planner", "plan_created", plans.plan.id, generation=generation, reason="tick",
                          targets=["backend-1=10.0.0.1/w1"])
            await one_pass(a, mode)    # type: ignore[arg-type]
            await one_pass(b, mode)    # type: ignore[arg-type]

    asyncio.run(scenario())
    return recording.events


def drifted_safe() -> types.SimpleNamespace:
    """safe.py with the drift the issue names: cleanup deletes the victim without re-asserting, in the
    same batch, what the endpoint and the rollback point at (a test-only mode; the code is untouched)."""
    mode = types.SimpleNamespace(**{name: getattr(safe, name) for name in dir(safe) if not name.startswith("__")})
    mode.cleanup_batch = lambda facts, victim: (Change("DELETE", victim),)
    return mode


def test_the_real_safe_loop_is_a_behaviour_of_the_safe_model() -> None:
    verdict = trace.check_events(run_enactors(safe, 5), safe=True, keep_generations=1)
    assert verdict.valid is True, verdict.why


def test_the_real_legacy_loop_is_a_behaviour_of_the_legacy_model() -> None:
    verdict = trace.check_events(run_enactors(legacy, 5), safe=False, keep_generations=1)
    assert verdict.valid is True, verdict.why


def test_drift_a_safe_cleanup_without_its_in_batch_reference_check_is_rejected_naming_the_batch() -> None:
    events = run_enactors(drifted_safe(), 5)
    verdict = trace.check_events(events, safe=True, keep_generations=1)
    assert verdict.valid is False, verdict.why
    first = verdict.first_untaken
    assert first is not None
    # The first cleanup (after plan 3, of plan 1) is the first event the model cannot take: its batch
    # is a bare DELETE where the model's safe cleanup re-asserts both references.
    assert (first.event.kind, first.event.detail["client"]) == ("batch_accepted", "enactor-a")
    assert first.event.detail["described"] == [f"DELETE A plan-000001.{EP} (1 record, ttl 1)"]
    before = [e for e in events if e.seq < (first.event.seq or 0)]
    assert not [e for e in before if e.kind == "cleanup_deleted"], "it is the first cleanup"
    assert "cleanup_deleted" in [e.kind for e in events], "the drifted run did delete the plan"


def test_the_verdict_command_exits_1_and_names_the_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = run_enactors(drifted_safe(), 4)
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join(json.dumps({"source": "event", **e.to_json()}) for e in events) + "\n")
    assert trace.main([str(history), "--mode", "safe", "--keep", "1"]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "the first event the model cannot take:" in out and "DELETE A plan-000001" in out


# --- the end of a recording ----------------------------------------------------------------------------

def test_a_torn_tail_is_left_out_and_the_rest_checked() -> None:
    # Services reach the stream at different speeds: a recording can end holding dns-admin's answer to
    # enactor-a's batch while enactor-a's own events before it (its lock_acquired) are still queued.
    # Here the recorded run loses enactor-a's last lock_acquired and everything of enactor-a after it.
    events, settings = recorded("legacy-race")
    last_lock = max((e for e in events if e.service == "enactor-a" and e.kind == "lock_acquired"), key=lambda e: e.t)
    torn = [e for e in events if not (e.service == "enactor-a" and e.t >= last_lock.t)]
    batches = [e for e in torn if e.kind == "batch_accepted" and e.detail.get("client") == "enactor-a"
               and e.t > last_lock.t]
    assert batches, "the run has a batch of enactor-a after its last lock"
    model = trace.build(torn, settings)
    assert model.torn and model.torn[0] == min(batches, key=lambda e: e.t)
    assert all(e.t < model.torn[0].t for e in (s.event for s in model.steps))
    verdict = trace.check(model)
    assert verdict.valid is True, (verdict.why, verdict.first_untaken and trace.describe(verdict.first_untaken))


def test_a_recording_with_every_service_caught_up_has_no_torn_tail() -> None:
    events, settings = recorded("safe-race")
    assert trace.build(events, settings).torn == ()
