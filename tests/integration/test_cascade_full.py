"""The cascade, acts 1 and 2 in one run (issue 24): `reproduce-outage SCENARIO=cascade-full` on the test
stack, with every downstream design legacy, then every one safe (CASCADE_MODE), judged from the recorded
history: the impact windows (harness/impact.py) and the checker's (7), (8) and (9)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from dnsrace_lab.harness import history as run_history
from dnsrace_lab.harness.impact import impact_windows
from dnsrace_lab.stack.names import lab_pythonpath

from .stack import TOP, Stack
from .test_network import use_nlb
from .test_outage import use_mode

pytestmark = pytest.mark.integration
RUN_TIMEOUT_S = 900


@pytest.mark.parametrize("design", ["legacy", "safe"])
def test_cascade_full_shows_every_window_in_legacy_and_only_the_dns_one_in_safe(stack: Stack, design: str) -> None:
    stack.dwfm_mode = design
    stack.compose("up", "-d", "dwfm")
    use_nlb(stack, design, design)
    use_mode(stack, "legacy")   # the trigger: legacy enactors' race; the reset starts the fleet afresh
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "dnsrace_lab.outage", "--project", stack.project, "--scenario",
                             "cascade-full", "--mode", "legacy", "--dwfm-mode", design, "--nlb-mode", design,
                             "--netmgr-mode", design], cwd=TOP, env=stack.env | {"PYTHONPATH": lab_pythonpath()},
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    folder = max((TOP / "store" / "reproduce-outage").glob("*-legacy-cascade-full"), key=lambda p: p.stat().st_mtime)
    assert folder.stat().st_mtime >= started
    recorded = run_history.read(folder / "history.jsonl")
    layers = [w.layer for w in impact_windows(recorded)]
    verdicts = json.loads((folder / "results.json").read_text())["invariants"]
    assert layers[:2] == ["DNS", "leases"], layers
    if design == "legacy":
        assert "LEGACY: every window of the incident" in output
        assert {"networking", "capacity", "clients"} <= set(layers), layers
        assert verdicts["capacity-held"]["valid"] is False and verdicts["clients-recover"]["valid"] is False
        assert verdicts["capacity-held"]["measures"]["answering_removed"] >= 1
    else:
        assert "SAFE DOWNSTREAM" in output
        assert layers == ["DNS", "leases"], layers
        for name in ("leases-recover", "capacity-held", "clients-recover"):
            assert verdicts[name]["valid"] is True, (name, verdicts[name])
    page = (folder / "timeline.html").read_text()
    assert "blast radius" in page and "Impact windows" in page
