"""make reproduce-outage, in both modes, checked from outside: DNS answers, dns-admin's audit,
container restarts, the events.

These run last (conftest orders them so): the legacy ones leave the stack broken on purpose, then
repair it. Each test first puts the enactors in the mode it needs (compose recreates only them).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from dnsrace_lab.stack.names import ENACTORS, lab_pythonpath
from dnsrace_model import trace

from .stack import ENDPOINT, TOP, Stack, wait_for

pytestmark = pytest.mark.integration

NEGATIVE_TTL_S = 15


def lab(stack: Stack, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.env | {"PYTHONPATH": lab_pythonpath()}
    return subprocess.run([sys.executable, "-m", module, "--project", stack.project, *args], cwd=TOP, env=env,
                          capture_output=True, text=True, timeout=400)


def restart_counts(stack: Stack) -> dict[str, int]:
    return {name: int(stack.inspect(name)["RestartCount"]) for name in ENACTORS}


def legacy_escape_line() -> int:
    source = (TOP / "services/enactor/dnsrace_enactor/legacy.py").read_text().splitlines()
    return next(n for n, line in enumerate(source, 1) if line.strip() == "raise error")


def use_mode(stack: Stack, mode: str) -> None:
    """Recreate the enactors in `mode` if they run another one, then reset the lab to its first second
    (as `make reproduce-outage` does): a run's history then holds dns-admin's whole audit, from row 1."""
    modes = {name: next((e.split("=", 1)[1] for e in stack.inspect(name)["Config"]["Env"]
                         if e.startswith("ENACTOR_MODE=")), "?") for name in ENACTORS}
    if set(modes.values()) != {mode}:
        stack.mode = mode
        stack.compose("up", "-d", *ENACTORS)
    stack.wait_ready(120)
    result = lab(stack, "dnsrace_lab.stack.reset", "--mode", mode)
    assert result.returncode == 0, result.stdout + result.stderr
    stack.wait_ready(120)


def endpoint_moves(stack: Stack, since_seq: int) -> list[tuple[int | None, int | None, str]]:
    """(generation before, after, client) for each accepted batch that moved the endpoint, replayed here
    from dns-admin's audit, independently of the lab's checker."""
    status, body = stack.admin("GET", "/v1/audit?limit=1000")
    assert status == 200, body
    moves, target = [], None
    for row in body["entries"]:
        if row["outcome"] != "accepted":
            continue
        before = target
        for change in row["batch"]["changes"]:
            record_set = change["record_set"]
            if record_set["name"] == ENDPOINT and record_set["type"] == "ALIAS":
                target = None if change["action"] == "DELETE" else record_set["target"]
        if target != before and row["seq"] > since_seq:
            moves.append((generation(before), generation(target), row["client"]))
    return moves


def generation(target: str | None) -> int | None:
    return int(target.split(".", 1)[0].removeprefix("plan-")) if target else None


def audit_seq(stack: Stack) -> int:
    status, body = stack.admin("GET", "/v1/audit?limit=1")
    return body["entries"][-1]["seq"] if body["entries"] else 0


def assert_outage(stack: Stack, outage_plan: str, since_seq: int, restarts_before: dict[str, int]) -> None:
    for view in (False, True):
        answer = stack.query(authoritative_view=view)
        assert (answer.rcode, answer.addresses) == ("NOERROR", set()), answer  # NODATA: a name with no A records
    assert stack.query(f"{outage_plan}.{ENDPOINT}", authoritative_view=True).rcode == "NXDOMAIN"
    assert stack.record_set(ENDPOINT, "ALIAS")["target"] == f"{outage_plan}.{ENDPOINT}"
    assert stack.record_set(f"{outage_plan}.{ENDPOINT}", "A") is None

    after = restart_counts(stack)
    assert all(after[name] > restarts_before[name] for name in ENACTORS), (restarts_before, after)
    for name in ENACTORS:
        assert stack.inspect(name)["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"

    events = [e for e in stack.events(5000) if e["seq"] > since_seq]
    crashes = [e for e in events if e["kind"] == "enactor_crashed"]
    where = f"services/enactor/dnsrace_enactor/legacy.py:{legacy_escape_line()}"
    for name in ENACTORS:
        mine = [e for e in crashes if e["service"] == name and "rollback." in e["detail"]["message"]]
        assert len(mine) >= 2, f"{name} crashed {len(mine)} times on the rollback record"
        assert {e["detail"]["exception"] for e in mine} == {"AliasTargetMissing"}
        assert {e["detail"]["protocol_at"] for e in mine} == {where}
        assert all(outage_plan in e["detail"]["message"] for e in mine)
    rejected = [e for e in events if e["kind"] == "batch_rejected" and e["detail"].get("change_index") == 1]
    assert rejected, "dns-admin never rejected a rollback change"


def assert_a_behaviour_of_the_model(mode: str, scenario: str) -> None:
    """The run's recorded events, checked against model/dnsrace.pml by Spin: the run's own (M) verdict,
    which reproduce-outage wrote into results.json (the same check as make model-check-trace)."""
    history = sorted((TOP / "store/reproduce-outage").glob(f"*-{mode}-{scenario}/history.jsonl"))[-1]
    verdict = json.loads((history.parent / "results.json").read_text())["invariants"]["model"]
    assert verdict["valid"] is True, (str(history), verdict["evidence"])
    with history.open() as lines:
        events, run = trace.load_events(lines)
    model = trace.build(events, trace.settings_for(events, run))
    assert verdict["measures"]["checked"] == len(model.steps), (verdict["measures"], len(model.steps))
    # Not vacuous: the checked steps start before the first fault and go on past it, and every
    # enactor's decisions are among them. (A count of steps is no bound: a quiet safe run has few.)
    faults = [e.t for e in events if e.kind in ("fault_started", "operator_deleted")]
    assert faults, f"{history}: no fault recorded"
    checked = [step.event.t for step in model.steps]
    assert min(checked) < min(faults) < max(checked), (str(history), min(checked), max(checked), min(faults))
    assert set(ENACTORS) <= {step.event.service for step in model.steps}, str(history)


def repair(stack: Stack) -> None:
    # Repair while the resolver holds a freshly cached empty answer (its SOA TTL just reset), so the
    # fix lands well inside that TTL: the lag clients see after a repair must then happen, and show.
    wait_for("the resolver holds a fresh negative answer for the endpoint",
             lambda: not (a := stack.query()).addresses and a.soa_ttl is not None and a.soa_ttl >= NEGATIVE_TTL_S - 1,
             within_s=NEGATIVE_TTL_S + 10, every_s=0.2)
    result = lab(stack, "dnsrace_lab.stack.repair")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"stayed broken for [0-9.]+ s after the fix", result.stdout), result.stdout
    lag = re.search(r"the resolver answered empty (\d+) times after the authoritative view answered "
                    r"\(a cached negative answer, SOA TTL at most (\d+) s\)", result.stdout)
    assert lag, result.stdout
    # The negative-cache lag happened (the resolver answered empty after the authoritative view had
    # answered), and what bounds it is the SOA TTL the cached answers carried, never above NEGATIVE_TTL_S.
    assert int(lag.group(1)) >= 1 and 0 < int(lag.group(2)) <= NEGATIVE_TTL_S, result.stdout
    assert stack.query().addresses, "the resolver does not answer after the repair"
    assert "automation is back" in result.stdout, result.stdout


@pytest.mark.parametrize("scenario", ["race", "manual-delete"])
def test_reproduce_outage_then_repair(stack: Stack, scenario: str) -> None:
    use_mode(stack, "legacy")
    since_seq = max((e["seq"] for e in stack.events(1)), default=0)
    restarts_before = restart_counts(stack)
    result = lab(stack, "dnsrace_lab.outage", "--scenario", scenario, "--mode", "legacy")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    outage_plan = re.search(r"outage plan:\s+(plan-\d{6})", result.stdout).group(1)
    assert "== the line that turns a missing plan into a total outage ==" in result.stdout
    assert ">> " in result.stdout and "THE BUG" in result.stdout  # the source around the failing line
    assert_outage(stack, outage_plan, since_seq, restarts_before)

    if scenario == "race":
        events = [e for e in stack.events(5000) if e["seq"] > since_seq]
        backward = [e for e in events if e["kind"] == "endpoint_pointed" and e["plan"] == outage_plan
                    and e["service"] == "enactor-a"]
        assert backward, "enactor-a never pointed the endpoint at the ancient plan"
        newer = [e for e in events if e["kind"] == "plan_created" and e["t"] < backward[-1]["t"]]
        newest = max(int(e["plan"].removeprefix("plan-")) for e in newer)
        assert newest - int(outage_plan.removeprefix("plan-")) > 5, "the plan it wrote was not ancient"
        deleted = [e for e in events if e["kind"] == "cleanup_deleted" and e["plan"] == outage_plan
                   and e["t"] > backward[-1]["t"]]
        assert deleted and deleted[0]["service"] != "enactor-a", "no other enactor's cleanup deleted the live plan"
        # Faithful legacy: that cleanup ran right after its own apply, never on an idle pass.
        finished = [e for e in events if e["kind"] == "apply_finished" and e["service"] == deleted[0]["service"]
                    and outage_plan in e["detail"]["cleaned"]]
        assert finished, "the live plan was not deleted by a cleanup that followed an apply"
        started = [(e["detail"]["fault"], e["detail"]["target"]) for e in events if e["kind"] == "fault_started"]
        assert ("hold-dns-admin", "enactor-a") in started and ("hold-redis", deleted[0]["service"]) in started
        assert all(target != "enactor-a" for fault, target in started if fault == "slow-dns-admin")
        held_at = next(e["t"] for e in events if e["kind"] == "fault_started"
                       and e["detail"]["fault"] == "hold-dns-admin")
        refused = [e for e in events if e["service"] == "enactor-a" and e["kind"] == "lock_refused"]
        assert refused and refused[0]["t"] <= held_at, "enactor-a was held before it was refused the lock"
    else:
        assert any(e["kind"] == "batch_accepted" and e["detail"].get("client") == "operator"
                   for e in stack.events(5000) if e["seq"] > since_seq)
    assert_a_behaviour_of_the_model("legacy", scenario)
    repair(stack)


def test_legacy_pause_makes_a_late_write_that_moves_the_endpoint_back(stack: Stack) -> None:
    use_mode(stack, "legacy")
    since = audit_seq(stack)
    result = lab(stack, "dnsrace_lab.outage", "--scenario", "pause", "--mode", "legacy")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moved the endpoint BACK" in result.stdout
    back = [(b, a) for b, a, client in endpoint_moves(stack, since) if client == "enactor-a" and b and a and a < b]
    assert back, "dns-admin's audit shows no backwards move by enactor-a"
    assert not stack.inspect("enactor-a")["State"]["Paused"], "the run left enactor-a paused"
    assert_a_behaviour_of_the_model("legacy", "pause")


@pytest.mark.parametrize("scenario", ["race", "pause", "manual-delete"])
def test_safe_mode_the_same_faults_do_no_harm(stack: Stack, scenario: str) -> None:
    use_mode(stack, "safe")
    since_audit, since_seq = audit_seq(stack), max((e["seq"] for e in stack.events(1)), default=0)
    restarts_before = restart_counts(stack)
    result = lab(stack, "dnsrace_lab.outage", "--scenario", scenario, "--mode", "safe")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SAFE: the same faults did no harm" in result.stdout and "FAIL " not in result.stdout

    # Judged again here, from outside and independently of the lab's checker.
    assert restart_counts(stack) == restarts_before
    moves = endpoint_moves(stack, since_audit)
    assert moves and not [m for m in moves if m[0] and m[1] and m[1] < m[0]], moves
    assert stack.query().addresses and stack.query(authoritative_view=True).addresses
    events = [e for e in stack.events(5000) if e["seq"] > since_seq]
    assert not [e for e in events if e["kind"] == "enactor_crashed"]
    history = sorted((TOP / "store/reproduce-outage").glob(f"*-safe-{scenario}/history.jsonl"))[-1]
    probes = [json.loads(line) for line in history.read_text().splitlines()[1:]]
    resolver = [p for p in probes if p["source"] == "client" and p["process"] == "resolver"]
    assert sum(1 for p in resolver if p["type"] == "invoke") >= 100
    assert_a_behaviour_of_the_model("safe", scenario)
    if scenario == "manual-delete":
        repaired = [e for e in events if e["kind"] == "endpoint_empty_found"]
        assert repaired and repaired[0]["service"] in ENACTORS, "no enactor noticed the empty answer"
        # The checker's (1), on the authoritative view: the deletion's empty answers end with the repair.
        assert re.search(r"the deletion at \+[0-9.]+ s was repaired [0-9.]+ s later", result.stdout), result.stdout
    else:
        assert not [p for p in resolver if p["type"] == "fail"], "the resolver answered empty"
        refused = [e for e in events if e["kind"] == "batch_rejected" and e["detail"]["client"] == "enactor-a"
                   and e["detail"]["error"] in ("RecordSetMismatch", "RecordSetExists")
                   and e["detail"]["change_index"] == 0]
        assert refused, "dns-admin never refused enactor-a's stale write"
        assert "== the stale write, and the DELETE that refused it ==" in result.stdout


def toxiproxy(stack: Stack, method: str, path: str, body: dict[str, object] | None = None) -> None:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ports['toxiproxy']}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


SLOW_DNS_HOLD_S = 20   # long enough for each enactor's self-check to meet the latency some ten times


def test_safe_mode_survives_dns_answers_as_slow_as_its_self_check_deadline(stack: Stack) -> None:
    # Issue 27: with DNS answers taking about the self-check's 2 s deadline, safe enactors died of a
    # CancelledError and Docker restarted them (enactor-a: 12 restarts in 90 s before the fix).
    use_mode(stack, "safe")
    since_seq = max((e["seq"] for e in stack.events(1)), default=0)
    restarts_before = restart_counts(stack)
    toxic = {"name": "near-deadline", "type": "latency", "stream": "downstream",
             "attributes": {"latency": 1950, "jitter": 200}}
    try:
        for name in ENACTORS:
            toxiproxy(stack, "POST", f"/proxies/{name}-dns/toxics", toxic)
        time.sleep(SLOW_DNS_HOLD_S)
    finally:
        for name in ENACTORS:
            toxiproxy(stack, "DELETE", f"/proxies/{name}-dns/toxics/near-deadline")
    assert restart_counts(stack) == restarts_before, "an enactor died and Docker restarted it"
    events = [e for e in stack.events(5000) if e["seq"] > since_seq]
    assert not [e for e in events if e["kind"] in ("enactor_crashed", "enactor_started")], events[-5:]
    # They kept working meanwhile: plans were applied, and the endpoint answers.
    assert [e for e in events if e["kind"] == "endpoint_pointed"]
    wait_for("the endpoint answering", lambda: stack.query().addresses, within_s=30)
