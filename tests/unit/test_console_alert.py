"""The console's one root alert, on recorded runs and hand-written histories: each behaviour with a
history that raises it and one that does not."""

from __future__ import annotations

from dnsrace.records import Change
from dnsrace_admin.console.alert import root_alert

from console_histories import (EP, H, LEGACY_MANUAL_DELETE, LEGACY_RACE, SAFE_MANUAL_DELETE, SAFE_RACE, a_set, aliasing,
                               answer, now, recorded)

NEGATIVE_TTL_S = 15


def end(events: list, after_s: float = 1.0) -> float:
    return max(e.t for e in events) + after_s


# --- recorded runs ----------------------------------------------------------------------------------

def test_the_legacy_race_raises_one_alert_naming_the_stale_write_and_the_deletion() -> None:
    events = recorded(LEGACY_RACE)
    result = root_alert(events, now(end(events), 15, [23, 24]), negative_ttl_s=NEGATIVE_TTL_S)
    alert = result.alert
    assert alert is not None and (alert.kind, alert.state) == ("endpoint-empty", "open")
    assert alert.title == "dynamodb.us-east-1.lab.test answers EMPTY: it aliases plan-000015, which no longer exists"
    assert alert.summary.startswith("endpoint → plan-000015 written by enactor-a while plan-000022 was live "
                                    "(its check was 15.1 s old); plan-000015 deleted by enactor-c's cleanup "
                                    "(after applying plan-000022) 0.04 s later")
    roles = [(link.role, link.service) for link in alert.chain]
    assert ("check", "enactor-a") in roles and ("lock", "enactor-a") in roles
    assert ("write", "dns-admin") in roles and ("write", "enactor-a") in roles
    assert ("deletion", "dns-admin") in roles and ("deletion", "enactor-c") in roles
    assert {link.sentence.split(":")[0] for link in alert.chain if link.role == "fault"} >= {
        "FAULT hold-dns-admin on enactor-a (enactor-a-dns-admin)"}
    # The crashes, rejections and restarts are under it, grouped; none is an alert of its own.
    whats = [group.what for group in alert.follow_ons]
    assert "enactor-a, enactor-b, enactor-c crashed 7 times: AliasTargetMissing at " \
           "services/enactor/dnsrace_enactor/legacy.py:42" in whats
    assert "dns-admin rejected 7 batches from enactor-a, enactor-b, enactor-c: AliasTargetMissing" in whats
    assert "enactor-a, enactor-b, enactor-c restarted 4 times" in whats
    assert "Repair" in alert.way_out and "plan-000024" in alert.way_out
    # An earlier back-move that the next plan undid is an episode of its own, closed: not the alert.
    assert len(result.episodes) == 2 and result.episodes[0].close is not None


def test_the_safe_race_under_the_same_faults_raises_nothing_and_never_had_an_episode() -> None:
    events = recorded(SAFE_RACE)
    result = root_alert(events, now(end(events), 118, [113, 114, 115, 116, 117, 118]), negative_ttl_s=NEGATIVE_TTL_S)
    assert result.alert is None and result.resolved is None and result.episodes == ()


def test_the_legacy_manual_delete_is_rooted_in_the_operators_deletion() -> None:
    events = recorded(LEGACY_MANUAL_DELETE)
    alert = root_alert(events, now(end(events), 66, [67]), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.kind == "endpoint-empty"
    assert alert.summary.startswith("plan-000066, the live plan, deleted by an operator (change-000220")
    assert any(link.role == "deletion" and link.service == "lab" for link in alert.chain)   # the narration too
    assert any("crashed 6 times" in group.what for group in alert.follow_ons)


def test_the_safe_manual_delete_is_repaired_by_an_enactor_and_the_alert_is_resolved() -> None:
    events = recorded(SAFE_MANUAL_DELETE)
    result = root_alert(events, now(end(events), 147, [145, 146, 147]), negative_ttl_s=NEGATIVE_TTL_S)
    assert result.alert is None and result.resolved is not None
    assert result.resolved.cleared_by == "enactor-b restoring plan-000140's record set (change-000402)"


# --- hand-written: each behaviour, raised and not ---------------------------------------------------

def healthy() -> H:
    h = H()
    for n, generation in enumerate(range(10, 17)):
        h.apply(10.0 + n * 2, "enactor-b", generation, rollback=generation - 1 if generation > 10 else None)
    return h       # the endpoint on plan 16 at t=22


def test_going_back_is_an_alert_even_while_the_endpoint_still_answers() -> None:
    h = healthy()
    h.apply(30.0, "enactor-a", 12, rollback=16)
    alert = root_alert(h.events, now(31.0, 12, range(10, 17)), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.kind == "endpoint-back"
    assert alert.title.endswith("went BACK to plan-000012, older than plan-000016, which was already live")
    assert alert.summary.startswith("endpoint → plan-000012 written by enactor-a while plan-000016 was live")


def test_moving_forward_again_clears_it_and_leaves_it_resolved() -> None:
    h = healthy()
    h.apply(30.0, "enactor-a", 12, rollback=16)
    h.apply(32.0, "enactor-b", 17, rollback=12)
    result = root_alert(h.events, now(33.0, 17, range(10, 18)), negative_ttl_s=NEGATIVE_TTL_S)
    assert result.alert is None
    assert result.resolved is not None and result.resolved.cleared_by.startswith("enactor-b pointing the endpoint at plan-000017")


def test_forward_moves_only_raise_nothing() -> None:
    h = healthy()
    result = root_alert(h.events, now(23.0, 16, range(10, 17)), negative_ttl_s=NEGATIVE_TTL_S)
    assert result.alert is None and result.resolved is None and result.episodes == ()


def test_deleting_an_old_plan_raises_nothing_deleting_the_live_one_raises_it() -> None:
    h = healthy()
    h.cleanup(23.0, "enactor-b", 10, after=16)
    assert root_alert(h.events, now(24.0, 16, range(11, 17)), negative_ttl_s=NEGATIVE_TTL_S).alert is None
    h.batch(25.0, "operator", Change("DELETE", a_set(16)), comment="oops")
    alert = root_alert(h.events, now(26.0, 16, range(11, 16)), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.summary.startswith("plan-000016, the live plan, deleted by an operator")


def test_follow_ons_are_grouped_under_the_alert_and_never_raised_on_their_own() -> None:
    crashing_while_healthy = healthy()
    crashing_while_healthy.crash(23.0, "enactor-a")
    crashing_while_healthy.crash(25.0, "enactor-a")
    assert root_alert(crashing_while_healthy.events, now(26.0, 16, range(10, 17)),
                      negative_ttl_s=NEGATIVE_TTL_S).alert is None
    h = healthy()
    h.crash(22.5, "enactor-c")      # before the root: not the alert's
    h.cleanup(23.0, "enactor-c", 16, after=16)
    for n, enactor in enumerate(["enactor-a", "enactor-b", "enactor-a"]):
        h.crash(24.0 + n, enactor)
    alert = root_alert(h.events, now(30.0, 16, range(10, 16)), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None
    whats = {group.what: group.count for group in alert.follow_ons}
    assert whats["enactor-a, enactor-b crashed 3 times: AliasTargetMissing at services/enactor/dnsrace_enactor/legacy.py:42"] == 3
    assert set(alert.chain_seqs) >= {seq for group in alert.follow_ons for seq in group.seqs}


def test_clients_holding_a_cached_empty_answer_after_a_fix_is_recovering_then_clears() -> None:
    h = healthy()
    h.cleanup(23.0, "enactor-c", 16, after=16)
    h.batch(30.0, "operator", Change("CREATE", aliasing(EP, 15)))
    h.event(30.01, "dns-admin", "operator_repair", "plan-000015", change_id="change-000016")
    cached = now(33.0, 15, range(10, 16), resolver=answer(empty=True, soa_ttl=12))
    alert = root_alert(h.events, cached, negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and (alert.kind, alert.state) == ("clients-empty", "recovering")
    assert "fixed by the operator's repair (change-000016)" in alert.summary and "12 s" in alert.way_out
    answering = root_alert(h.events, now(50.0, 15, range(10, 16)), negative_ttl_s=NEGATIVE_TTL_S)
    assert answering.alert is None and answering.resolved is not None
    assert answering.resolved.cleared_by == "the operator's repair (change-000016)"


def test_an_empty_resolver_long_after_any_fix_is_an_open_alert_not_recovery() -> None:
    h = healthy()
    alert = root_alert(h.events, now(200.0, 16, range(10, 17), resolver=answer(empty=True)),
                       negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and (alert.kind, alert.state) == ("clients-empty", "open")


def test_a_silent_resolver_is_an_alert_an_answering_one_is_not() -> None:
    h = healthy()
    alert = root_alert(h.events, now(23.0, 16, range(10, 17), resolver=answer(silent=True)),
                       negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.kind == "resolver-silent"
    assert root_alert(h.events, now(23.0, 16, range(10, 17)), negative_ttl_s=NEGATIVE_TTL_S).alert is None


def test_a_cause_older_than_the_history_kept_is_said_so_and_the_alert_still_raised() -> None:
    alert = root_alert([], now(5.0, 15, [16]), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.kind == "endpoint-empty" and alert.since is None
    assert "not among the events kept" in alert.summary and alert.chain == ()


def test_no_alias_at_all_is_empty() -> None:
    alert = root_alert([], now(5.0, None, [16]), negative_ttl_s=NEGATIVE_TTL_S).alert
    assert alert is not None and alert.title.endswith("answers EMPTY: it aliases nothing")
