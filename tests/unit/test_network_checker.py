"""Invariants (8) capacity-held and (9) clients-recover, on hand-written histories."""

from __future__ import annotations

from typing import Any

from dnsrace_lab.harness.checker import UNKNOWN, Bounds, FaultWindow, check_history
from dnsrace_lab.harness.checker.network import busiest_window, check_capacity_held, check_clients_recover

BOUNDS = Bounds(client_recovery_bound_s=60.0)


def nlb_window(t: float, in_service: int = 12) -> dict[str, Any]:
    return {"kind": "nlb_window", "t": t, "detail": {"targets": 12, "in_service": in_service}}


def removed(t: float, target: str, networked: bool, networked_at: float | None) -> dict[str, Any]:
    return {"kind": "nlb_target_removed", "t": t, "detail": {"target": target, "why": "unhealthy",
                                                             "networked": networked, "networked_at": networked_at}}


def client_window(t: float, ok: int, errors: int = 0) -> dict[str, Any]:
    return {"kind": "client_window", "t": t, "detail": {"ok": ok, "errors": errors,
                                                        "success_rate": ok / (ok + errors) if ok + errors else None,
                                                        "by_error": {"http_503": errors} if errors else {}}}


def probes_empty_between(start: float, end: float) -> list[dict[str, Any]]:
    return [{"process": "resolver", "type": "ok", "t": start - 1.0}, {"process": "resolver", "type": "fail", "t": start},
            {"process": "resolver", "type": "ok", "t": end}]


# --- (8) --------------------------------------------------------------------------------------------------

def test_8_holds_when_only_unanswering_targets_leave_within_the_cap() -> None:
    events = [removed(10.0, "s01", False, None), removed(11.0, "s02", True, 10.5),   # networked 0.5 s: not yet answering
              removed(30.0, "s03", False, None)]
    v = check_capacity_held(events, [nlb_window(t, 10) for t in range(5, 40)], BOUNDS)
    assert v.valid is True, v.evidence
    assert v.measures["answering_removed"] == 0 and v.measures["most_removed_in_window"] == 2


def test_8_breaks_on_an_answering_target_taken_out() -> None:
    v = check_capacity_held([removed(20.0, "s07", True, 5.0)], [nlb_window(20.0, 11)], BOUNDS)
    assert v.valid is False and "s07" in v.evidence[0]


def test_8_breaks_on_more_than_a_quarter_removed_within_ten_seconds() -> None:
    events = [removed(10.0 + k, f"s0{k + 1}", False, None) for k in range(4)]
    v = check_capacity_held(events, [nlb_window(15.0, 8)], BOUNDS)
    assert v.valid is False and "4 removed within 10 s" in " ".join(v.evidence)
    spread = [removed(10.0 + 4 * k, f"s0{k + 1}", False, None) for k in range(4)]
    assert check_capacity_held(spread, [nlb_window(15.0, 8)], BOUNDS).valid is True


def test_8_breaks_below_half_in_service_and_is_unknown_without_figures() -> None:
    v = check_capacity_held([], [nlb_window(1.0), nlb_window(2.0, 5), nlb_window(3.0)], BOUNDS)
    assert v.valid is False and "5 of 12 in service" in v.evidence[0]
    assert check_capacity_held([], [], BOUNDS).valid == UNKNOWN


def test_the_busiest_window_counts_removals_within_it() -> None:
    assert busiest_window([0.0, 1.0, 9.9, 10.0, 25.0], 10.0) == (3, 0.0)
    assert busiest_window([], 10.0) == (0, 0.0)


# --- (9) --------------------------------------------------------------------------------------------------

def test_9_judges_the_clients_from_the_bound_after_dns_came_back() -> None:
    probes = probes_empty_between(100.0, 200.0)
    early_errors = [client_window(200.0 + s, 10, 10) for s in range(0, 60)]   # within the bound: not judged
    fine = [client_window(261.0 + s, 20) for s in range(0, 20)]
    v = check_clients_recover(probes, [], early_errors + fine, BOUNDS)
    assert v.valid is True, v.evidence
    late = fine[:5] + [client_window(270.0, 12, 8)] + fine[10:]
    v = check_clients_recover(probes, [], early_errors + late, BOUNDS)
    assert v.valid is False and v.evidence[1].startswith("1 seconds below 95% after the bound")
    assert v.measures["last_below_t"] == 270.0


def test_9_holds_once_served_for_ten_seconds_and_is_unknown_while_still_failing_within_the_bound() -> None:
    probes = probes_empty_between(100.0, 200.0)
    assert check_clients_recover(probes, [], [client_window(200.0 + s, 20) for s in range(12)], BOUNDS).valid is True
    failing = [client_window(200.0 + s, 0, 20) for s in range(30)]
    assert check_clients_recover(probes, [], failing, BOUNDS).valid == UNKNOWN
    assert check_clients_recover(probes, [], failing + [client_window(231.0 + s, 20) for s in range(5)],
                                 BOUNDS).valid == UNKNOWN


def test_9_counts_its_bound_from_the_end_of_a_propagation_storm_that_outlasts_dns() -> None:
    """The chaos campaign's storm stops at 230 s, after DNS came back at 200 s: a second below at 270 s is
    within 60 s of the storm's end (held), one at 295 s is not (broken). A storm over before DNS came back
    changes nothing."""
    probes = probes_empty_between(100.0, 200.0)
    storm = [FaultWindow(2, "propagation-storm", "netmgr", 180.0, 230.0, {})]
    at_270 = [client_window(200.0 + s, 20) for s in range(70)] + [client_window(270.0, 12, 8)] + [
        client_window(271.0 + s, 20) for s in range(30)]
    v = check_clients_recover(probes, storm, at_270, BOUNDS)
    assert v.valid is True and v.evidence[0].startswith("the propagation storm stopped at"), v.evidence
    assert v.measures["dns_back_t"] == 230.0
    at_295 = [client_window(200.0 + s, 20) for s in range(95)] + [client_window(295.0, 12, 8)] + [
        client_window(296.0 + s, 20) for s in range(15)]
    assert check_clients_recover(probes, storm, at_295, BOUNDS).valid is False
    early = [FaultWindow(2, "propagation-storm", "netmgr", 150.0, 190.0, {})]
    assert check_clients_recover(probes, early, at_270, BOUNDS).valid is False


def test_8_and_9_are_judged_only_in_runs_that_bound_them() -> None:
    run = {"source": "run", "bounds": {"converge_bound_s": 20.0}}
    assert "capacity-held" not in check_history([run], "dynamodb.us-east-1.lab.test")
    run = {"source": "run", "bounds": {"converge_bound_s": 20.0, "client_recovery_bound_s": 60.0}}
    verdicts = check_history([run], "dynamodb.us-east-1.lab.test")
    assert verdicts["capacity-held"].valid == UNKNOWN and verdicts["clients-recover"].valid == UNKNOWN


def test_1_to_6_and_7_leave_the_propagation_storm_out() -> None:
    """The storm is Network Manager's fault: (1)-(6) never see it (nor the storage cut), and (7)'s fallback
    moment (no empty answer, no cut) is the DNS automation's last fault, not the storm's end."""
    from dnsrace_lab.harness.checker import dns_windows
    from dnsrace_lab.harness.checker.leases_recover import dns_back
    kill = FaultWindow(1, "kill-enactor", "enactor-a", 10.0, 12.0, {})
    cut = FaultWindow(2, "partition-dynamodb", "dynamodb", 5.0, 80.0, {})
    storm = FaultWindow(3, "propagation-storm", "netmgr", 6.0, 90.0, {})
    assert dns_windows([kill, cut, storm]) == [kill]
    assert dns_back([], [kill, storm]) == (12.0, "the last fault stopped (the resolver never answered empty)")
