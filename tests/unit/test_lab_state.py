"""The lab's state from one observation (dnsrace_lab.stack.state.classify): each state, and its way out."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.stack.state import ENACTORS, SERVICES, Observation, classify


def running(**overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    containers = {s: {"status": "running", "restarts": 0, "started_s": 600.0} for s in SERVICES}
    for service, fields in overrides.items():
        containers[service.replace("_", "-")] |= fields
    return containers


def observed(**fields: Any) -> Observation:
    base: dict[str, Any] = {"containers": running(), "endpoint_addresses": ["172.20.0.2"],
                            "resolver_addresses": ["172.20.0.2"], "alias_target": "plan-000145.dynamodb.us-east-1.lab.test",
                            "alias_target_exists": True, "mode": "legacy"}
    return Observation(**(base | fields))


CRASH = {"exception": "AliasTargetMissing", "protocol_at": "services/enactor/dnsrace_enactor/legacy.py:42"}


def test_not_built_and_down() -> None:
    state = classify(Observation(images_missing=["dnsrace/app:local"]))
    assert state.name == "not-built" and "make up builds the images" in str(state) and state.code == 10
    state = classify(Observation())
    assert state.name == "down" and str(state) == "lab: down (no container) — make up starts it"


def test_partial_names_what_is_missing_or_stopped() -> None:
    containers = running(planner={"status": "exited"})
    del containers["redis"]
    state = classify(observed(containers=containers))
    assert state.name == "partial" and "redis missing" in state.line and "planner exited" in state.line


def test_healthy_and_the_cached_negative_answer() -> None:
    assert classify(observed()).name == "healthy"
    state = classify(observed(resolver_addresses=[]))
    assert state.name == "healthy" and "cached empty answer" in state.line and state.code == 0


def test_faults_before_anything_else_and_named() -> None:
    state = classify(observed(toxics={"enactor-a-dns-admin": ["nemesis-hold"]}, disabled=["enactor-b-redis"],
                              containers=running(enactor_c={"status": "paused"})))
    assert state.name == "faults"
    assert "toxic nemesis-hold on enactor-a-dns-admin; proxy enactor-b-redis disabled; enactor-c paused" in state.line
    assert "make up heals them" in state.way_out


def test_outage_names_the_plan_the_crash_and_the_way_out() -> None:
    crashing = running(**{name.replace("-", "_"): {"status": "restarting", "restarts": 4} for name in ENACTORS})
    state = classify(observed(containers=crashing, endpoint_addresses=[], resolver_addresses=[],
                              alias_target="plan-000110.dynamodb.us-east-1.lab.test", alias_target_exists=False,
                              crashes={name: CRASH for name in ENACTORS}))
    assert state.name == "outage" and state.code == 15
    assert state.line.startswith("OUTAGE on plan-000110: the endpoint aliases plan-000110, which no longer exists")
    assert "enactor-a, enactor-b, enactor-c crash-looping (AliasTargetMissing at " \
           "services/enactor/dnsrace_enactor/legacy.py:42)" in state.line
    assert "make repair" in state.way_out


def test_outage_without_crashes_is_still_an_outage() -> None:
    """Safe mode, or a legacy stack whose enactors have not crashed yet: the deleted target is the outage."""
    state = classify(observed(endpoint_addresses=[], alias_target="plan-000110.x", alias_target_exists=False))
    assert state.name == "outage" and "crash-looping" not in state.line


def test_starting_only_while_young_and_not_crashing() -> None:
    young = running(**{s.replace("-", "_"): {"started_s": 5.0} for s in SERVICES})
    state = classify(observed(containers=young, endpoint_addresses=[], alias_target=None, alias_target_exists=None))
    assert state.name == "starting" and "make up waits" in state.way_out
    state = classify(observed(endpoint_addresses=[], alias_target=None, alias_target_exists=None))
    assert state.name == "broken" and "no alias for the endpoint" in state.line and "make reset" in state.way_out
    crashing = running(**{s.replace("-", "_"): {"started_s": 5.0} for s in SERVICES})
    crashing["enactor-a"] |= {"status": "restarting", "restarts": 3, "started_s": 1.0}
    state = classify(observed(containers=crashing, endpoint_addresses=[], alias_target=None, alias_target_exists=None,
                              crashes={"enactor-a": CRASH}))
    assert state.name == "broken" and "enactor-a crash-looping" in state.line
