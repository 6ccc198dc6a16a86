"""make chaos, short: two seeded runs in each mode against the suite's stack, judged by the campaign's
own checker from each run's history — legacy must be judged invalid (the checker can fail), safe valid.

It runs last but one (conftest orders it so): legacy breaks the stack on purpose. Each run resets the
stack's state in place first, so the modes' runs do not see each other's leftovers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dnsrace_lab.stack.names import lab_pythonpath

from .stack import TOP, Stack

pytestmark = pytest.mark.integration

# The same two schedules in both modes (seeds 11 and 12, fault phase FAULT_PHASE_S): a timeout on a
# path, dns-admin killed (once mid-batch), pauses past the lock's TTL, an enactor killed, a hold, and the
# live plan deleted. Any one of several of them ends legacy's runs invalid; safe must survive them all.
SEEDS = {"legacy": 11, "safe": 11}
FAULT_PHASE_S = "16"
RUNS = 2


def chaos(stack: Stack, mode: str, store: Path, *, runs: int = RUNS, cascade: bool = False) -> subprocess.CompletedProcess[str]:
    env = stack.env | {"PYTHONPATH": lab_pythonpath()}
    return subprocess.run([sys.executable, "-m", "dnsrace_lab.chaos", "--project", stack.project, "--mode", mode,
                           "--runs", str(runs), "--seed", str(SEEDS[mode]), "--fault-phase-s", FAULT_PHASE_S,
                           "--store", str(store), *(["--cascade"] if cascade else [])],
                          # A cascade run records until (9)'s bound and may give Spin its whole 180 s.
                          cwd=TOP, env=env, capture_output=True, text=True, timeout=900 if cascade else 600)


def runs_of(store: Path, mode: str) -> list[Path]:
    return sorted(p for p in store.glob(f"*-{mode}-*") if (p / "results.json").exists())


@pytest.fixture(scope="module")
def store() -> Path:
    return TOP / "store" / "integration" / "chaos"


@pytest.mark.parametrize("mode", ["legacy", "safe"])
def test_chaos_judges_legacy_invalid_and_safe_valid(stack: Stack, store: Path, mode: str) -> None:
    before = set(runs_of(store, mode))
    result = chaos(stack, mode, store)
    stack.mode = mode      # the campaign recreated the enactors in this mode; later compose calls keep it
    print(result.stdout, result.stderr)
    runs = [run for run in runs_of(store, mode) if run not in before]
    assert len(runs) == RUNS, result.stdout + result.stderr
    verdicts = [json.loads((run / "results.json").read_text()) for run in runs]
    for run, verdict in zip(runs, verdicts):
        # What a run leaves behind, whatever it found.
        assert (run / "history.jsonl").exists() and (run / "timeline.html").exists()
        assert {"enactor-a.log", "dns-admin.log", "redis.log"} <= {p.name for p in (run / "logs").iterdir()}
        first = json.loads((run / "run.log").read_text().splitlines()[0])["chaos_run"]
        assert first["seed"] == verdict["seed"] and first["parameters"]["mode"] == mode
        rows = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
        assert rows[0]["source"] == "run"
        assert sum(1 for r in rows if r["source"] == "client" and r["type"] == "invoke") >= 200
        started = [r for r in rows if r["source"] == "nemesis" and r["type"] == "fault_started" and r["fault"] != "all"]
        assert started, f"{run.name}: no fault started"
        # The model verdict (conformance.py): never drift, in either mode, and some events were checked
        # against model/dnsrace.pml (all of them, or those before the first fault the model leaves out).
        model = verdict["invariants"]["model"]
        assert model["valid"] is not False, model["evidence"]
        assert model["measures"]["checked"] > 10, model
    if mode == "legacy":
        assert result.returncode == 1, result.stdout + result.stderr
        assert all(v["valid"] is False for v in verdicts), [v["invariants"] for v in verdicts]
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert all(v["valid"] is True for v in verdicts), [
            {name: i["evidence"] for name, i in v["invariants"].items() if i["valid"] is not True} for v in verdicts]
    assert "summary: 2 run(s) in mode " + mode in result.stdout
    # No run leaves a fault behind: the state check sees no toxic, no disabled proxy, no paused container.
    state = subprocess.run([sys.executable, "-m", "dnsrace_lab.stack.state", "--project", stack.project, "--json"], cwd=TOP,
                           env=stack.env | {"PYTHONPATH": lab_pythonpath()},
                           capture_output=True, text=True, timeout=60)
    assert json.loads(state.stdout)["state"] != "faults", state.stdout


@pytest.mark.parametrize("mode", ["legacy", "safe"])
def test_chaos_with_the_cascade_legacy_fails_7_and_8_and_safe_holds_7_to_9(stack: Stack, store: Path, mode: str) -> None:
    # Seed 11's faults plus one cut of DynamoDB's storage node for 1.5-2.5 lease TTLs (the test stack's
    # 30 s): every lease lapses; and a propagation storm, 3-4 times Network Manager's 10 a second for
    # 40-60 s. The lease manager, the load balancer's control and Network Manager run in the campaign's
    # mode; (7) judges the leases from the later of the resolver answering and the storage node answering
    # again, (8) the load balancer's removals, (9) the clients from the later of that and the storm's end.
    before = set(runs_of(store, mode))
    result = chaos(stack, mode, store, runs=1, cascade=True)
    # The campaign recreated the enactors, dwfm, nlb-control and netmgr in this mode.
    stack.mode = stack.dwfm_mode = stack.nlb_mode = stack.netmgr_mode = mode
    print(result.stdout, result.stderr)
    runs = [run for run in runs_of(store, mode) if run not in before]
    assert len(runs) == 1, result.stdout + result.stderr
    verdict = json.loads((runs[0] / "results.json").read_text())
    parameters = json.loads((runs[0] / "run.log").read_text().splitlines()[0])["chaos_run"]["parameters"]
    assert parameters["cascade"] is True and parameters["lease_ttl_s"] == 30.0
    rows = [json.loads(line) for line in (runs[0] / "history.jsonl").read_text().splitlines()]
    cut = [r for r in rows if r["source"] == "nemesis" and r.get("fault") == "partition-dynamodb"]
    assert [r["type"] for r in cut] == ["fault_started", "fault_stopped"], cut
    assert cut[1]["t"] - cut[0]["t"] >= 1.5 * 30.0
    assert any(r["source"] == "figures" and r.get("kind") == "lease_window" for r in rows)
    storm = [r for r in rows if r["source"] == "nemesis" and r.get("fault") == "propagation-storm"]
    assert [r["type"] for r in storm] == ["fault_started", "fault_stopped"], storm
    assert storm[1]["posted"] >= 30 * 40 * 0.9 and parameters["propagate_per_s"] == 10.0, storm
    # Network Manager's queue really grew: the storm's droplets, worked 10 a second.
    queues = [int(r["detail"]["queue"]) for r in rows if r["source"] == "figures" and r.get("kind") == "netmgr_window"]
    assert max(queues) >= 500, max(queues)
    recover = verdict["invariants"]["leases-recover"]
    capacity, clients = verdict["invariants"]["capacity-held"], verdict["invariants"]["clients-recover"]
    assert verdict["invariants"]["model"]["valid"] is not False, verdict["invariants"]["model"]["evidence"]
    assert clients["valid"] in (True, False), clients["evidence"]      # decided: the history reached past its bound
    if mode == "legacy":
        assert result.returncode == 1, result.stdout + result.stderr
        assert recover["valid"] is False, recover["evidence"]
        assert capacity["valid"] is False and capacity["measures"]["answering_removed"] >= 1, capacity["evidence"]
    else:
        assert result.returncode == 0, result.stdout + result.stderr
        assert all(i["valid"] is True for name, i in verdict["invariants"].items() if name != "model"), {
            name: i["evidence"] for name, i in verdict["invariants"].items() if i["valid"] is not True}
        assert recover["measures"]["recovery_s"] <= 60.0
        assert capacity["measures"]["lowest_in_service"] >= 6 and capacity["measures"]["answering_removed"] == 0
        assert clients["measures"]["seconds_after_dns_back"] >= 10
    assert "(7) the leases back within the bound after DynamoDB was" in result.stdout
    assert "(8) capacity held:" in result.stdout and "(9) the clients served within the bound" in result.stdout
