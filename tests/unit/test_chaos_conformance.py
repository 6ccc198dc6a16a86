"""The campaign's model verdict (dnsrace_lab/conformance.py): a run's history checked against the model.

Histories as the campaign writes them (a "run" row first, then rows by source), from the recorded runs
in tests/unit/data/traces: accepted in their own mode, rejected with the first event named when an
event is changed, and an unknown verdict (never a pass) when the check cannot run. Spin is real here.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dnsrace_lab.harness import conformance
from dnsrace_lab.harness import report
from dnsrace_lab.harness.checker import TITLES, UNKNOWN

DATA = Path(__file__).parent / "data" / "traces"


@pytest.fixture(autouse=True)
def spin_installed() -> None:
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        pytest.fail("spin and gcc are needed (infra/host-deps.sh installs them; make test runs it)")


def history(name: str, *, seq: int | None = None, **detail: Any) -> list[dict[str, Any]]:
    """A recorded history; with `seq`, that event's detail changed as given."""
    with gzip.open(DATA / f"{name}.jsonl.gz", "rt") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    for row in rows:
        if seq is not None and row.get("seq") == seq:
            row["detail"] = {**row["detail"], **detail}
    return rows


@pytest.mark.parametrize("name", ["20261129T144656Z-legacy-race", "20261129T152631Z-safe-race"])
def test_a_recorded_run_gets_a_valid_model_verdict_with_its_numbers(name: str) -> None:
    verdict = conformance.judge(history(name))
    assert verdict.invariant == "model" and verdict.title == TITLES["model"]
    assert verdict.valid is True, verdict.evidence
    assert verdict.measures["events"] > 50 and verdict.measures["states"] > 0 and not verdict.marks


def test_a_run_the_model_cannot_take_is_invalid_and_names_the_event_on_the_time_axis() -> None:
    # The same change test_trace_check makes: enactor-a's backwards write with a rollback legacy's code
    # cannot produce (it aliases the live plan it re-read).
    rows = history("20261129T144656Z-legacy-race", seq=428, rollback="plan-000021")
    verdict = conformance.judge(rows)
    assert verdict.valid is False
    assert any("#428" in line for line in verdict.evidence), verdict.evidence
    assert len(verdict.marks) == 1 and verdict.marks[0].t == next(r["t"] for r in rows if r.get("seq") == 428)


def test_the_mode_comes_from_the_run_row_so_a_legacy_run_judged_as_safe_is_invalid() -> None:
    rows = history("20261129T144656Z-legacy-race")
    rows[0] = {**rows[0], "mode": "safe"}
    assert conformance.judge(rows).valid is False


def test_a_history_the_check_cannot_read_is_unknown_never_valid() -> None:
    rows = history("20261129T152631Z-safe-race")
    rows.insert(5, {"source": "event", "seq": 7, "t": "not a time", "service": "enactor-a", "kind": "check_passed"})
    verdict = conformance.judge(rows)
    assert verdict.valid == UNKNOWN and "could not run" in verdict.evidence[0]


def test_the_campaign_table_has_a_model_column_and_the_summary_counts_it() -> None:
    base = {"seed": 7, "mode": "safe", "faults": ["pause enactor-a"], "faults_started": 1, "run_s": 30.0,
            "reset_s": 4.0, "folder": "store/chaos/x", "valid": True, "measures": {}}
    verdicts = {name: True for name in ("no-empty-answer", "never-back", "no-referenced-delete", "converges",
                                        "no-lost-batch", "no-crash-loop")}
    results = [base | {"verdicts": verdicts | {"model": True}}, base | {"verdicts": verdicts | {"model": False}},
               base | {"verdicts": verdicts | {"model": "unknown"}, "measures": {"model": {"checked": 40}}},
               base | {"verdicts": verdicts}]   # recorded before the model verdict existed
    # seed, "1: pause a", the six invariants, then the model's column
    assert [report.row(r).split()[10] for r in results] == ["ok", "FAIL", "?", "?"]
    assert ("model (the events a behaviour of model/dnsrace.pml): 1 whole runs, 1 invalid (drift), 1 checked up "
            "to a fault the model leaves out, 1 not checked (the trace check found no answer in its time)"
            ) in "\n".join(report.summary(results, 100.0))


# --- chaos runs: faults that lose answers and processes -------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [("chaos-safe-11", "apply_failed"), ("chaos-legacy-11", "enactor_crashed"),
                                          ("chaos-legacy-1003", "enactor_crashed"), ("chaos-legacy-1007", "batch_accepted"),
                                          ("chaos-safe-27044", "apply_failed"), ("chaos-safe-27077", "plan_skipped"),
                                          ("chaos-safe-12", "batch_accepted"),
                                          ("chaos-safe-2000-cascade", "batch_accepted")])
def test_a_chaos_run_is_a_behaviour_of_the_model_whole(name: str, kind: str) -> None:
    # Seed 11 of tests/integration/test_chaos.py: a timeout on enactor-c's DNS path, dns-admin SIGKILLed
    # (safe: mid-batch, the answer held), a pause past the lease, enactor-b SIGKILLed. Safe records
    # apply_failed and backs off; legacy's enactors die on DnsAdminUnavailable and restart. Seed 1003
    # (make chaos): enactor-a paused holding the lock, then partitioned: it dies without releasing it,
    # and enactor-b takes the lock once the lease lapses. Seed 1007: 283 events (the tables are filled
    # in several d_steps; spin refuses one that long). Safe seed 27044: Redis killed, then dns-admin; each
    # enactor fails on reading the plan, Redis is back, a pass reads the plan it has and ends in silence
    # (its failures reset), then the next plan fails as failure 1 (the trace check had ruled that out).
    # Safe seed 27077: enactor-c partitioned twice fails ten times reading the plan; the code gives up a
    # plan only when it has one, so no apply_gave_up (the model gave up regardless, until fixed).
    # Safe seed 12 (CI at 7103e04): dns-admin SIGKILLed between committing change-000017 and reporting it;
    # without its event no execution explains the zone (a complete search: 15.2 M states, 2 minutes). The
    # row dns-admin appends at its next start (lost_events.recovered_event, from the history's audit row)
    # makes the run whole. Safe seed 2000 with CASCADE=1 (make chaos, 2026-12-07): 430 events, more table
    # text than one of spin's inlines holds ("inline text too long", judged unknown until the tables were
    # split into several inlines).
    rows = history(name)
    assert kind in {r.get("kind") for r in rows}
    verdict = conformance.judge(rows)
    assert verdict.valid is True, verdict.evidence
    assert verdict.measures["checked"] == verdict.measures["events"] > 100


def test_a_failure_that_is_not_outside_the_protocol_is_drift() -> None:
    # enactor-c's first apply_failed (#67) says a KeyError instead of dns-admin being unreachable: the
    # model's enactors fail outside the protocol only for what codes.INFRA_EXCEPTIONS names.
    rows = history("chaos-safe-11", seq=67, error="KeyError: 'endpoint'")
    verdict = conformance.judge(rows)
    assert verdict.valid is False and "#67" in verdict.evidence[-1], verdict.evidence


def test_drift_in_a_chaos_run_is_invalid_and_named() -> None:
    # enactor-a's forward move to plan-000003 (#44): safe's rollback is the plan the endpoint left;
    # plan-000001 cannot be.
    rows = history("chaos-safe-11", seq=44, rollback="plan-000001")
    verdict = conformance.judge(rows)
    assert verdict.valid is False and "#44" in verdict.evidence[-1], verdict.evidence


def test_a_run_that_leaves_the_models_scope_is_checked_up_to_there_and_judged_unknown() -> None:
    rows = history("chaos-safe-11")
    # A malformed plan refused by enactor-b (plan_rejected: the model's plans are never malformed),
    # after the dns-admin kill: the prefix before that fault is checked, and the verdict is unknown.
    kill = next(r for r in rows if r.get("source") == "nemesis" and r.get("fault") == "kill-dns-admin")
    rows.append({"source": "event", "seq": 9999, "t": kill["t"] + 1.0, "service": "enactor-b",
                 "kind": "plan_rejected", "plan": None, "token": None, "detail": {"error": "not JSON"}})
    verdict = conformance.judge(rows)
    assert verdict.valid == UNKNOWN, verdict.evidence
    assert verdict.evidence[0].startswith("outside the model from the kill-dns-admin fault on dns-admin "
                                          "(#9999 plan_rejected follows)")
    assert 40 <= verdict.measures["checked"] < verdict.measures["events"]
    assert verdict.marks and verdict.marks[0].label == "model: the run leaves the model's scope"


def test_what_the_model_leaves_out() -> None:
    from dnsrace.events import Event
    from dnsrace_model import trace

    def out(kind: str, **detail: Any) -> str | None:
        return conformance.outside_the_model(Event(6.0, "enactor-a", kind, None, None, detail), trace.UNMODELLED)

    assert (out("enactor_frozen", why="odd state") or "").startswith("enactor_frozen")
    assert out("plan_rejected") is not None and out("batch_outcome_unknown") is not None
    assert out("apply_failed", error="DnsAdminUnavailable: x") is None      # the model has these
    assert out("enactor_crashed", exception="ConnectionError") is None
    assert out("enactor_started") is None
    # A lock held under a token nobody announced: its holder's acquire answer was lost (seed 27066:
    # enactor-c partitioned the moment Redis gave it token 17). Beyond the model; an announced one is not.
    refused = Event(6.0, "enactor-b", "lock_refused", "plan-000016", None, {"held_by": "enactor-c:17", "attempt": 1})
    assert (conformance.outside_the_model(refused, trace.UNMODELLED, {16, 18}) or "").startswith(
        "lock_refused: the lock is held by enactor-c with token 17, which no lock_acquired event announced")
    assert conformance.outside_the_model(refused, trace.UNMODELLED, {16, 17}) is None
    assert conformance.outside_the_model(refused, trace.UNMODELLED) is None
    # Legacy seed 27042: enactor-a killed holding the lock, restarted, refused by its own lease.
    own = Event(6.0, "enactor-a", "lock_refused", "plan-000010", None, {"held_by": "enactor-a:8", "attempt": 1})
    assert (conformance.outside_the_model(own, trace.UNMODELLED, {8}) or "").startswith(
        "lock_refused: enactor-a refused by its own lease (token 8)")
    kill = {"source": "nemesis", "type": "fault_started", "fault": "kill-enactor", "target": "enactor-c", "t": 5.0}
    started = Event(6.0, "enactor-c", "enactor_started", None, None, {})
    assert conformance.cut_before(started, [kill]) == (5.0, "the kill-enactor fault on enactor-c "
                                                            "(#None enactor_started follows)")
    assert conformance.cut_before(started, []) == (6.0, "#None enactor_started")


def test_a_runs_verdict_counts_the_model_when_it_is_decided() -> None:
    from dnsrace_lab.harness.checker import Verdict, overall
    held = {name: Verdict(name, True, ()) for name in ("no-empty-answer", "never-back", "converges")}
    assert overall(held | {"model": Verdict("model", True, ())}) is True
    assert overall(held | {"model": Verdict("model", False, ("drift",))}) is False
    assert overall(held | {"model": Verdict("model", UNKNOWN, ("left the model's scope",))}) is True
    assert overall(held | {"converges": Verdict("converges", UNKNOWN, ())}) == UNKNOWN
