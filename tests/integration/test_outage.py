"""make reproduce-outage, checked from outside: DNS answers, container restarts, the events.

These run last (conftest orders them so): they leave the stack broken on purpose, then repair it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .stack import ENDPOINT, TOP, Stack

ENACTORS = ("enactor-a", "enactor-b", "enactor-c")
NEGATIVE_TTL_S = 15


def lab(stack: Stack, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.env | {"PYTHONPATH": f"{TOP}/services/common:{TOP}/services/lab"}
    return subprocess.run([sys.executable, "-m", module, "--project", stack.project, *args], cwd=TOP, env=env,
                          capture_output=True, text=True, timeout=400)


def restart_counts(stack: Stack) -> dict[str, int]:
    return {name: int(stack.inspect(name)["RestartCount"]) for name in ENACTORS}


def legacy_submit_line() -> int:
    source = (TOP / "services/enactor/dnsrace_enactor/legacy.py").read_text().splitlines()
    return next(n for n, line in enumerate(source, 1) if "an AliasTargetMissing here is the crash" in line)


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
    where = f"services/enactor/dnsrace_enactor/legacy.py:{legacy_submit_line()}"
    for name in ENACTORS:
        mine = [e for e in crashes if e["service"] == name and "rollback." in e["detail"]["message"]]
        assert len(mine) >= 2, f"{name} crashed {len(mine)} times on the rollback record"
        assert {e["detail"]["exception"] for e in mine} == {"AliasTargetMissing"}
        assert {e["detail"]["protocol_at"] for e in mine} == {where}
        assert all(outage_plan in e["detail"]["message"] for e in mine)
    rejected = [e for e in events if e["kind"] == "batch_rejected" and e["detail"].get("change_index") == 1]
    assert rejected, "dns-admin never rejected a rollback change"


def repair(stack: Stack) -> None:
    result = lab(stack, "dnsrace_lab.repair")
    assert result.returncode == 0, result.stdout + result.stderr
    broken = re.search(r"stayed broken for ([0-9.]+) s after the fix", result.stdout)
    assert broken, result.stdout
    assert float(broken.group(1)) <= NEGATIVE_TTL_S + 3, result.stdout  # bounded by the negative TTL
    assert stack.query().addresses, "the resolver does not answer after the repair"
    assert "automation is back" in result.stdout, result.stdout


@pytest.mark.parametrize("scenario", ["race", "manual-delete"])
def test_reproduce_outage_then_repair(stack: Stack, scenario: str) -> None:
    stack.wait_healthy(120)
    since_seq = max((e["seq"] for e in stack.events(1)), default=0)
    restarts_before = restart_counts(stack)
    result = lab(stack, "dnsrace_lab.outage", "--scenario", scenario)
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
        faults = [e for e in events if e["kind"] in ("fault_started", "fault_stopped")]
        assert faults and faults[0]["kind"] == "fault_started" and faults[0]["detail"]["fault"] == "hold"
        assert faults[0]["detail"]["target"] == "enactor-a"
    else:
        assert any(e["kind"] == "batch_accepted" and e["detail"].get("client") == "operator"
                   for e in stack.events(5000) if e["seq"] > since_seq)
    repair(stack)
