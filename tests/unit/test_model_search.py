"""`make model`'s searches, as tests: legacy's counterexamples found, safe's searches complete with none.

Runs spin on model/dnsrace.pml (about 30-40 s on two cores). A missing spin is a failure, never a skip:
make test installs it (infra/host-deps.sh). And the search earns its trust by failing: the same model
with safe's compare-and-swap taken out must give a counterexample.
"""

from __future__ import annotations

import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "model"))
from dnsrace_model import searches, spin, trail  # noqa: E402  (model/ is not a service package)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, searches.Outcome]:
    if shutil.which("spin") is None or shutil.which("gcc") is None:
        pytest.fail("spin and gcc are needed (infra/host-deps.sh installs them; make test runs it)")
    with ThreadPoolExecutor(max_workers=searches.WORKERS) as pool:
        return {o.search.name: o for o in pool.map(searches.run_search, searches.SEARCHES)}


def test_legacy_violates_every_safety_property(outcomes: dict[str, searches.Outcome]) -> None:
    for name, outcome in outcomes.items():
        if outcome.search.mode == "legacy":
            assert outcome.violated, searches.summary_line(outcome)


def test_safe_searches_are_exhaustive_and_find_nothing(outcomes: dict[str, searches.Outcome]) -> None:
    safe = [o for o in outcomes.values() if o.search.mode == "safe"]
    assert {p for o in safe for p in o.search.properties} == {*searches.SAFETY, "LIVENESS"}
    for outcome in safe:
        assert outcome.run is not None, outcome.error
        report = outcome.run.report
        assert report.errors == 0 and report.complete and report.states_stored > 100_000, searches.summary_line(outcome)


def test_the_legacy_trail_is_the_incident_in_the_timelines_words(outcomes: dict[str, searches.Outcome]) -> None:
    outcome = next(o for o in outcomes.values() if o.search.trail)
    assert outcome.run is not None
    steps = trail.parse(spin.replay(outcome.run), keep_generations=1, mode="legacy")
    events = [s.event for s in steps]
    marks = trail.story(events)
    assert list(marks) and [marks[m] for m in trail.MOMENTS] == sorted(marks[m] for m in trail.MOMENTS)
    crash = events[marks["an enactor crashes"]]
    assert crash.kind == "enactor_crashed" and crash.detail["exception"] == "AliasTargetMissing"
    lines = trail.render(events)
    assert any("REJECTED a batch from" in line and "UPSERT ALIAS rollback." in line for line in lines)
    assert any("cleanup deleted plan-" in line for line in lines)
    # Every batch of the trail, under dns-admin's own rules, ends as the model said.
    assert trail.replay_batches(steps, trail.start_zone(plan_applied=False)) == []


def test_without_the_compare_and_swap_safe_has_a_counterexample(tmp_path: Path) -> None:
    model = (spin.MODEL_DIR / "dnsrace.pml").read_text()
    cas = """       if :: c_ep != 0 -> add_change(A_DELETE, N_ENDPOINT, c_ep) :: else -> skip fi;
       add_change(A_CREATE, N_ENDPOINT, p);
       if :: c_rb != 0 -> add_change(A_DELETE, N_ROLLBACK, c_rb) :: else -> skip fi;
       if :: c_ok -> add_change(A_CREATE, N_ROLLBACK, c_ep) :: else -> skip fi;"""
    upserts = """       add_change(A_UPSERT, N_ENDPOINT, p);
       if :: c_ok -> add_change(A_UPSERT, N_ROLLBACK, c_ep) :: else -> skip fi;"""
    assert model.count(cas) == 1
    for source in spin.MODEL_DIR.glob("*.pml"):
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "dnsrace.pml").write_text(model.replace(cas, upserts))
    search = searches.SEARCHES[4]
    assert search.mode == "safe" and "START_APPLIED" in search.defines
    run = spin.verify(tmp_path / "dnsrace.pml", search.all_defines, pan_flags=search.pan_flags,
                      cc_flags=search.cc_flags, timeout_s=searches.SEARCH_TIMEOUT_S, workdir=tmp_path)
    assert run.report.errors == 1 and run.report.assertion is not None


def test_pan_reports_are_read_whole() -> None:
    report = spin.parse_report("""pan:1: assertion violated !(on_rollback) (at depth 419)
State-vector 144 byte, depth reached 743, errors: 1
    13610 states, stored
    21000 states, matched
  152.900	total actual memory usage
pan: elapsed time 2.4 seconds
""")
    assert (report.errors, report.states_stored, report.transitions, report.depth_reached) == (1, 13610, 34610, 743)
    assert report.memory_mb == 152.9 and report.elapsed_s == 2.4 and report.assertion == "!(on_rollback)"
    assert not report.complete
    assert not spin.parse_report("errors: 0\nwarning: max search depth too small\n").complete
