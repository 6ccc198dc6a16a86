"""make status (dnsrace_lab.stack.status): the console's status in a terminal, rendered from what /api/status
returns (here assembled by the console itself from a recorded run)."""

from __future__ import annotations

import json

from dnsrace_admin.console.status import History, assemble
from dnsrace_lab.stack.status import render

from console_histories import LEGACY_RACE, SAFE_MANUAL_DELETE, now, recorded


def status_of(name: str, target: int, existing: list[int]) -> dict:
    events = recorded(name)
    status, _ = assemble(History(events, kept_max=10_000), now(max(e.t for e in events) + 2, target, existing),
                         negative_ttl_s=15)
    return json.loads(json.dumps(status))      # exactly what travels over HTTP


def test_the_outage_prints_one_alert_its_chain_its_follow_ons_and_the_way_out() -> None:
    lines = render(status_of(LEGACY_RACE, 15, [23, 24]), "http://127.0.0.1:8080")
    text = "\n".join(lines)
    assert sum(line.startswith("ALERT") for line in lines) == 1
    assert "endpoint → plan-000015 written by enactor-a while plan-000022 was live" in text
    assert "deleted by enactor-c's cleanup" in text and "how it happened:" in text
    assert "crashed 7 times: AliasTargetMissing at services/enactor/dnsrace_enactor/legacy.py:42" in text
    assert "way out: Repair" in text and "plan-000024" in text
    assert "endpoint    -> plan-000015 (DOES NOT EXIST" in text


def test_after_a_repair_there_is_no_alert_and_the_last_one_is_shown_resolved() -> None:
    lines = render(status_of(SAFE_MANUAL_DELETE, 147, [145, 146, 147]), "http://127.0.0.1:8080")
    assert "no alert" in lines and not any(line.startswith("ALERT") for line in lines)
    assert any("the last one, resolved: plan-000140, the live plan, deleted by an operator" in line for line in lines)
    assert lines[-1].endswith("the console: http://127.0.0.1:8080/")
