"""Every make target in every state the lab can be in: it does its job, or it stops within seconds
saying which state the lab is in and the command that gets out of it (README: "What each command does
when…"). Run through `make`, exactly as a user types it, against the suite's own stack (the user's
stack, if any, runs beside it untouched).

States walked here: up and healthy; faults left behind; a run interrupted mid-fault; the reproduced
outage (legacy); after `make repair`; down (a project with no containers). "Not built" is covered by
the state's unit tests (removing the images here would cost a rebuild).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

import pytest

from dnsrace_lab.stack.names import lab_pythonpath

from .stack import TOP, Stack, wait_for

pytestmark = pytest.mark.integration

QUICK_S = 30.0   # "stops within seconds": a bound with room for a loaded machine, not a measurement


@dataclass
class Ran:
    status: int
    output: str
    seconds: float


def make(stack: Stack, *args: str, project: str | None = None, timeout_s: float = 300) -> Ran:
    started = time.monotonic()
    result = subprocess.run(["make", "-s", "--no-print-directory", *args, f"PROJECT={project or stack.project}"],
                            cwd=TOP, env=stack.env, capture_output=True, text=True, timeout=timeout_s)
    return Ran(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def add_toxic(stack: Stack, proxy: str, name: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports['toxiproxy']}/proxies/{proxy}/toxics", method="POST",
        data=f'{{"name": "{name}", "type": "latency", "stream": "upstream", "attributes": {{"latency": 1}}}}'.encode(),
        headers={"Content-Type": "application/json", "User-Agent": "dnsrace-test"})
    urllib.request.urlopen(request, timeout=10).close()


def toxics(stack: Stack) -> dict[str, list[str]]:
    import json
    request = urllib.request.Request(f"http://127.0.0.1:{stack.ports['toxiproxy']}/proxies",
                                     headers={"User-Agent": "dnsrace-test"})
    with urllib.request.urlopen(request, timeout=10) as response:
        proxies = json.loads(response.read())
    return {name: [t["name"] for t in p["toxics"]] for name, p in proxies.items() if p["toxics"] or not p["enabled"]}


def paused(stack: Stack) -> list[str]:
    out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={stack.project}",
                          "--filter", "status=paused"], capture_output=True, text=True, timeout=30).stdout
    return out.split()


def test_every_target_in_every_state(stack: Stack) -> None:
    # --- up and healthy ------------------------------------------------------------------------------
    assert make(stack, "reset", "MODE=legacy", timeout_s=600).status == 0
    ran = make(stack, "ps")
    assert ran.status == 0 and "lab: healthy: mode legacy" in ran.output, ran.output
    ran = make(stack, "dig")
    assert ran.status == 0 and "status: NOERROR" in ran.output and "ANSWER: 3" in ran.output, ran.output
    ran = make(stack, "up", "MODE=legacy")
    assert ran.status == 0 and "up: serving in" in ran.output, ran.output
    ran = make(stack, "repair")
    assert ran.status == 0 and "repair: nothing to repair" in ran.output, ran.output
    ran = make(stack, "timeline", "LAST=5")
    assert ran.status == 0 and ran.output.strip(), ran.output
    ran = make(stack, "backend-fail", "N=9")
    assert ran.status != 0 and "usage: make backend-fail N=1|2|3" in ran.output, ran.output

    # --- faults left behind (a run killed with SIGKILL cannot heal) ----------------------------------
    add_toxic(stack, "enactor-b-dns-admin", "nemesis-hold")
    subprocess.run(["docker", "pause", stack.container("enactor-c")], check=True, timeout=30)
    ran = make(stack, "ps")
    assert "lab: faults active: toxic nemesis-hold on enactor-b-dns-admin; enactor-c paused" in ran.output, ran.output
    ran = make(stack, "repair")
    assert ran.status != 0 and "faults are active; make up heals them" in ran.output, ran.output
    ran = make(stack, "up", "MODE=legacy")
    assert ran.status == 0, ran.output
    assert "lab: healed a fault left behind: every toxic removed" in ran.output, ran.output
    assert "unpaused enactor-c" in ran.output and "up: serving in" in ran.output, ran.output
    assert not toxics(stack) and not paused(stack)

    # --- a run interrupted mid-fault (Ctrl-C while enactor-a is frozen holding the lock) -------------
    env = stack.env | {"PYTHONPATH": lab_pythonpath()}
    run = subprocess.Popen([sys.executable, "-u", "-m", "dnsrace_lab.outage", "--scenario", "pause", "--mode", "legacy",
                            "--project", stack.project], cwd=TOP, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        assert run.stdout is not None
        seen = []
        for line in run.stdout:
            seen.append(line)
            if line.startswith("step 3"):
                break
        assert any(line.startswith("step 3") for line in seen), "".join(seen)
        assert paused(stack) and toxics(stack), "the run had no fault in place at step 3"
        run.send_signal(signal.SIGINT)
        rest = run.communicate(timeout=60)[0]
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, "".join(seen) + rest
    assert "interrupted; healed every fault it placed" in rest, rest
    assert not toxics(stack) and not paused(stack)
    assert "lab: faults active" not in make(stack, "ps").output

    # --- the reproduced outage (legacy: an operator deletes the live plan) ---------------------------
    assert make(stack, "reset", "MODE=legacy", timeout_s=600).status == 0
    outage = subprocess.run([sys.executable, "-m", "dnsrace_lab.outage", "--scenario", "manual-delete", "--mode",
                             "legacy", "--project", stack.project], cwd=TOP, env=env, capture_output=True, text=True,
                            timeout=400)
    assert outage.returncode == 0, outage.stdout + outage.stderr
    ran = make(stack, "ps")
    assert "lab: OUTAGE on plan-" in ran.output and "crash-looping (AliasTargetMissing at" in ran.output, ran.output
    assert "make repair" in ran.output
    ran = make(stack, "up", "MODE=legacy")
    assert ran.status != 0 and "Error 3" in ran.output, ran.output
    assert "lab: OUTAGE on plan-" in ran.output and "ANSWER: 0" in ran.output, ran.output
    assert ran.seconds < QUICK_S * 2, f"make up took {ran.seconds:.0f} s to report the outage"
    ran = make(stack, "dig")
    assert ran.status == 0 and "ANSWER: 0" in ran.output, ran.output
    ran = make(stack, "timeline", "LAST=20")
    assert ran.status == 0 and "CRASHED: AliasTargetMissing" in ran.output, ran.output

    # --- after make repair ---------------------------------------------------------------------------
    ran = make(stack, "repair", timeout_s=400)
    assert ran.status == 0 and "stayed broken for" in ran.output, ran.output
    wait_for("make ps says healthy after the repair", lambda: "lab: healthy" in make(stack, "ps").output, within_s=120)
    ran = make(stack, "up", "MODE=legacy")
    assert ran.status == 0 and "up: serving in" in ran.output, ran.output


def test_every_target_when_the_lab_is_down(stack: Stack) -> None:
    """A project with no containers: each target says `down` and the way out, in seconds."""
    empty = f"dnsrace-down-{os.getpid()}"
    ran = make(stack, "ps", project=empty)
    assert ran.status == 0 and "lab: down (no container) — make up starts it" in ran.output, ran.output
    for target in (["dig"], ["timeline"], ["logs"], ["repair"], ["backend-fail", "N=1"], ["backend-heal", "N=1"]):
        ran = make(stack, *target, project=empty)
        assert ran.status != 0, (target, ran.output)
        assert f"make {target[0]}: cannot run now; lab: down (no container) — make up starts it" in ran.output, ran.output
        assert ran.seconds < QUICK_S, (target, ran.seconds)
    ran = make(stack, "down", project=empty)
    assert ran.status == 0 and f"down: project {empty} removed" in ran.output, ran.output
