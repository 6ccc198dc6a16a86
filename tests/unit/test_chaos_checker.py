"""The chaos campaign's six invariants, judged on hand-written histories: for each, one history that
passes and one that fails (and, where the history cannot tell, one that is "unknown"); uncertain
operations (`info` probes, a batch whose answer was lost) included."""

from __future__ import annotations

from typing import Any

import pytest

from dnsrace_lab.harness.checker import UNKNOWN, check_history, overall

EP = "dynamodb.us-east-1.lab.test"
ROLLBACK = f"rollback.{EP}"
PARAMETERS = {"converge_bound_s": 15.0, "negative_ttl_s": 15.0, "repair_bound_s": 10.0, "answer_slack_s": 2.0}
T0 = 1_000.0


def plan(generation: int) -> str:
    return f"plan-{generation:06d}.{EP}"


class H:
    """A history under construction: the run line, then rows by source, as chaos.py records them."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.seq = 0
        self.change = 0

    def build(self) -> list[dict[str, Any]]:
        run = {"source": "run", "schedule": {"parameters": PARAMETERS}, "endpoint": EP}
        return [run, *sorted(self.rows, key=lambda r: r["t"])]

    # --- the client ---
    def probes(self, start: float, end: float, kind: str, process: str = "resolver", every: float = 0.1) -> H:
        t = start
        while t < end - 1e-9:
            done: dict[str, Any] = {"source": "client", "process": process, "type": kind, "f": "resolve",
                                    "t": T0 + t + 0.005}
            if kind == "ok":
                done["value"] = ["10.0.0.1", "10.0.0.2"]
            elif kind == "fail":
                done["rcode"], done["value"] = "NOERROR", []
            self.rows += [{"source": "client", "process": process, "type": "invoke", "f": "resolve", "t": T0 + t},
                          done]
            t += every
        return self

    def both(self, start: float, end: float, kind: str) -> H:
        return self.probes(start, end, kind, "resolver").probes(start, end, kind, "authoritative")

    # --- the nemesis ---
    def fault(self, fault: str, target: str, start: float, stop: float | None, fault_id: int, **detail: Any) -> H:
        self.rows.append({"source": "nemesis", "type": "fault_started", "t": T0 + start, "fault": fault,
                          "target": target, "id": fault_id, **detail})
        if stop is not None:
            self.rows.append({"source": "nemesis", "type": "fault_stopped", "t": T0 + stop, "fault": fault,
                              "target": target, "id": fault_id})
        return self

    # --- the stack's events ---
    def event(self, t: float, service: str, kind: str, plan_id: str | None = None, **detail: Any) -> H:
        self.rows.append({"source": "event", "t": T0 + t, "service": service, "kind": kind, "plan": plan_id,
                          "token": None, "detail": detail, "seq": None})
        return self

    def plan_created(self, t: float, generation: int) -> H:
        return self.event(t, "planner", "plan_created", f"plan-{generation:06d}")

    # --- dns-admin's audit ---
    def batch(self, t: float, client: str, *changes: dict[str, Any], outcome: str = "accepted",
              ack: bool = True, comment: str = "") -> str | None:
        self.seq += 1
        change_id = None
        if outcome == "accepted":
            self.change += 1
            change_id = f"change-{self.change:06d}"
        self.rows.append({"source": "audit", "seq": self.seq, "t": T0 + t, "change_id": change_id, "client": client,
                          "comment": comment, "outcome": outcome, "batch": {"changes": list(changes)}})
        if change_id and ack and client.startswith("enactor"):
            self.event(t + 0.01, client, "endpoint_pointed" if "point" in comment else "record_set_written",
                       change_id=change_id)
        return change_id

    def write_plan(self, t: float, client: str, generation: int) -> None:
        self.batch(t, client, a_set(generation), comment=f"plan-{generation:06d}: record set")

    def point(self, t: float, client: str, generation: int, previous: int | None) -> None:
        changes = [alias("DELETE", EP, previous)] if previous else []
        changes.append(alias("CREATE", EP, generation))
        self.batch(t, client, *changes, comment=f"plan-{generation:06d}: point {EP}")

    def delete_plan(self, t: float, client: str, generation: int) -> str | None:
        return self.batch(t, client, {"action": "DELETE", "record_set": a_set(generation)["record_set"]},
                          comment="cleanup")

    def observe(self, t: float, **what: Any) -> H:
        self.rows.append({"source": "observation", "t": T0 + t, **what})
        return self


def a_set(generation: int) -> dict[str, Any]:
    return {"action": "UPSERT", "record_set": {"name": plan(generation), "type": "A", "ttl": 1,
                                               "records": [{"address": "10.0.0.1", "weight": 1}]}}


def alias(action: str, name: str, generation: int | None) -> dict[str, Any]:
    return {"action": action, "record_set": {"name": name, "type": "ALIAS", "target": plan(generation or 0)}}


def healthy_run() -> H:
    """Plans 1..4 every 2 s, each written and pointed by enactor-b; one latency fault from 2 s to 5 s; the
    resolver answers throughout but for a few timeouts (info), which never count."""
    h = H()
    for generation in range(1, 5):
        t = (generation - 1) * 2.0
        h.plan_created(t, generation)
        h.write_plan(t + 0.2, "enactor-b", generation)
        h.point(t + 0.3, "enactor-b", generation, generation - 1 or None)
    h.both(0.5, 9.0, "ok").probes(9.0, 9.5, "info").probes(9.5, 12.0, "ok")
    h.fault("latency", "enactor-a", 2.0, 5.0, 1, proxy="enactor-a-dns-admin")
    h.event(0.0, "enactor-a", "enactor_started").event(0.0, "enactor-b", "enactor_started")
    h.event(0.0, "enactor-c", "enactor_started")
    h.observe(12.0, restart_counts={"enactor-a": 0, "enactor-b": 0, "enactor-c": 0})
    return h


def test_a_healthy_run_holds_every_invariant() -> None:
    verdicts = check_history(healthy_run().build(), EP)
    assert {name: v.valid for name, v in verdicts.items()} == dict.fromkeys(verdicts, True), \
        {name: v.evidence for name, v in verdicts.items()}
    assert overall(verdicts) is True
    assert verdicts["no-empty-answer"].measures["timeouts"] == 5


# (1) no empty answer -------------------------------------------------------------------------------------

def test_1_an_empty_answer_at_the_resolver_is_a_violation_with_its_window() -> None:
    h = healthy_run()
    h.rows = [r for r in h.rows if not (r["source"] == "client" and T0 + 6.0 <= r["t"] < T0 + 7.0
                                        and r["process"] == "resolver")]
    h.probes(6.0, 7.0, "fail")
    verdict = check_history(h.build(), EP)["no-empty-answer"]
    assert verdict.valid is False
    assert "EMPTY 10 times in 1 window" in verdict.evidence[0]
    assert verdict.marks and verdict.marks[0].t == pytest.approx(T0 + 6.005)


def test_1_timeouts_are_never_empty_answers() -> None:
    h = healthy_run()
    h.probes(12.0, 20.0, "info")
    assert check_history(h.build(), EP)["no-empty-answer"].valid is True


def test_1_empty_before_the_first_plan_was_live_does_not_count_and_no_answer_at_all_is_unknown() -> None:
    h = H()
    h.probes(0.0, 1.0, "fail").probes(1.0, 3.0, "ok")
    assert check_history(h.build(), EP)["no-empty-answer"].valid is True
    never = H().probes(0.0, 3.0, "fail").probes(3.0, 4.0, "info")
    assert check_history(never.build(), EP)["no-empty-answer"].valid == UNKNOWN


def deletion_run(resolver_empty_until: float) -> H:
    """The nemesis deletes the live plan at 4 s; the authoritative view is empty until 5.5 s (repaired);
    the resolver keeps its cached empty answer until `resolver_empty_until`."""
    h = H()
    h.plan_created(0.0, 1)
    h.write_plan(0.2, "enactor-b", 1)
    h.point(0.3, "enactor-b", 1, None)
    h.probes(0.5, 4.1, "ok", "authoritative").probes(4.1, 5.5, "fail", "authoritative")
    h.probes(5.5, 30.0, "ok", "authoritative")
    h.probes(0.5, 4.1, "ok").probes(4.1, resolver_empty_until, "fail").probes(resolver_empty_until, 30.0, "ok")
    change_id = h.delete_plan(4.0, "nemesis", 1)
    h.fault("delete-live-plan", "dns-admin", 4.0, 4.0, 1, change_id=change_id, plan="plan-000001")
    h.write_plan(5.0, "enactor-a", 1)     # safe mode restores the live plan
    return h


def test_1_the_deletion_excuses_empties_for_the_repair_plus_the_negative_ttl_and_no_longer() -> None:
    assert check_history(deletion_run(5.5 + 15.0).build(), EP)["no-empty-answer"].valid is True
    late = check_history(deletion_run(5.5 + 15.0 + 2.0 + 1.0).build(), EP)["no-empty-answer"]
    assert late.valid is False, late.evidence
    assert "excuses empty answers until" in late.evidence[0]


def scenario_history(h: H, *, repair_bound_s: float = 5.0) -> list[dict[str, Any]]:
    """The history as reproduce-outage records it: its scenario's bounds in the run line (both views)."""
    rows = h.build()
    rows[0] = {"source": "run", "scenario": "manual-delete", "mode": "safe", "endpoint": EP,
               "bounds": {"converge_bound_s": 20.0, "negative_ttl_s": 15.0, "repair_bound_s": repair_bound_s,
                          "answer_slack_s": 2.0, "views": ["resolver", "authoritative"]}}
    return rows


def test_1_a_run_line_with_bounds_judges_the_authoritative_view_too_and_its_repair_bound() -> None:
    # The authoritative view is empty for 1.5 s after the deletion, within the 5 s repair bound: excused;
    # the evidence says how long the repair took.
    verdict = check_history(scenario_history(deletion_run(5.5 + 15.0)), EP)["no-empty-answer"]
    assert verdict.valid is True, verdict.evidence
    assert any("was repaired 1.5 s later" in line and "bound 5 s" in line for line in verdict.evidence)
    assert verdict.measures["authoritative"]["repaired_s"] == [1.505]   # the first answer after 5.5 s


def test_1_the_authoritative_view_empty_past_the_repair_bound_is_a_violation() -> None:
    h = deletion_run(5.5 + 15.0)
    h.probes(12.0, 13.0, "fail", "authoritative")      # empty again, long after the repair: no excuse
    verdict = check_history(scenario_history(h), EP)["no-empty-answer"]
    assert verdict.valid is False
    assert any(line.startswith("the authoritative view answered EMPTY") for line in verdict.evidence)
    # The same history judged as a chaos run (the resolver only) does not look at that view.
    assert check_history(h.build(), EP)["no-empty-answer"].valid is True


def test_bounds_naming_a_view_no_probe_records_are_refused() -> None:
    rows = scenario_history(deletion_run(20.0))
    rows[0]["bounds"]["views"] = ["resolver", "secondary"]
    with pytest.raises(ValueError, match="secondary"):
        check_history(rows, EP)


def test_3_and_5_an_operator_deletion_that_is_the_fault_is_known_by_its_change_id() -> None:
    """reproduce-outage's manual-delete: the operator (not the nemesis) deletes the live plan, and the
    fault row names the batch's change id and client. Neither (3) nor (5) calls it a violation; the same
    deletion without its fault row is one."""
    h = H()
    h.plan_created(0.0, 1)
    h.write_plan(0.2, "enactor-b", 1)
    h.point(0.3, "enactor-b", 1, None)
    h.both(0.5, 30.0, "ok")
    change_id = h.delete_plan(4.0, "operator", 1)
    bare = check_history(h.build(), EP)
    assert bare["no-referenced-delete"].valid is False
    h.fault("delete-live-plan", "dns-admin", 4.0, 4.0, None, change_id=change_id, client="operator",
            plan="plan-000001")
    verdicts = check_history(h.build(), EP)
    assert verdicts["no-referenced-delete"].valid is True, verdicts["no-referenced-delete"].evidence
    assert verdicts["no-lost-batch"].valid is True, verdicts["no-lost-batch"].evidence


# (2) never back ------------------------------------------------------------------------------------------

def test_2_the_endpoint_going_back_in_the_audit_is_a_violation() -> None:
    h = healthy_run()
    h.point(7.0, "enactor-a", 2, 4)     # a late write from a stale check
    verdict = check_history(h.build(), EP)["never-back"]
    assert verdict.valid is False
    assert "by enactor-a moved the endpoint BACK from plan 4 to plan 2" in verdict.evidence[0]


def test_2_an_audit_cut_short_is_unknown_not_valid() -> None:
    h = healthy_run()
    h.rows = [r for r in h.rows if not (r["source"] == "audit" and r["seq"] == 1)]
    verdict = check_history(h.build(), EP)["never-back"]
    assert verdict.valid == UNKNOWN and "starts at row 2" in verdict.evidence[0]


def test_2_a_refused_batch_moves_nothing() -> None:
    h = healthy_run()
    h.batch(7.0, "enactor-a", alias("DELETE", EP, 1), alias("CREATE", EP, 2), outcome="RecordSetMismatch")
    assert check_history(h.build(), EP)["never-back"].valid is True


# (3) no referenced delete --------------------------------------------------------------------------------

def test_3_a_cleanup_deleting_the_live_plan_is_a_violation() -> None:
    h = healthy_run()
    h.delete_plan(8.5, "enactor-c", 4)
    verdict = check_history(h.build(), EP)["no-referenced-delete"]
    assert verdict.valid is False
    assert "by enactor-c (cleanup) deleted plan-000004 while the endpoint pointed at it" in verdict.evidence[0]


def test_3_the_rollback_record_counts_and_the_nemesis_deletion_does_not() -> None:
    h = healthy_run()
    h.batch(8.4, "enactor-b", {"action": "CREATE", "record_set": {"name": ROLLBACK, "type": "ALIAS",
                                                                  "target": plan(3)}})
    h.delete_plan(8.5, "enactor-c", 3)
    verdict = check_history(h.build(), EP)["no-referenced-delete"]
    assert verdict.valid is False and verdict.evidence[0].endswith("deleted plan-000003 while the rollback record "
                                                                   "pointed at it")
    assert check_history(deletion_run(20.5).build(), EP)["no-referenced-delete"].valid is True


def test_3_deleting_an_old_unreferenced_plan_is_fine() -> None:
    h = healthy_run()
    h.delete_plan(8.5, "enactor-c", 1)
    assert check_history(h.build(), EP)["no-referenced-delete"].valid is True


# (4) converges -------------------------------------------------------------------------------------------

def outage_run(end: float) -> H:
    """The live plan deleted by a cleanup at 8.5 s, during a partition (8 s to 9 s); nothing repairs it;
    the history ends at `end`."""
    h = healthy_run()
    h.rows = [r for r in h.rows if not (r["source"] == "client" and r["t"] >= T0 + 9.0)]
    h.fault("partition", "enactor-a", 8.0, 9.0, 2)
    h.delete_plan(8.5, "enactor-c", 4)
    h.both(9.0, end, "fail")
    return h


def test_4_an_endpoint_that_never_reaches_the_newest_plan_is_a_violation_once_the_bound_ran_out() -> None:
    verdict = check_history(outage_run(9.0 + 15.0 + 1.0).build(), EP)["converges"]
    assert verdict.valid is False
    assert "never reached the newest plan" in verdict.evidence[0] and "does not exist" in verdict.evidence[0]


def test_4_a_history_that_ends_before_the_bound_is_unknown() -> None:
    assert check_history(outage_run(12.0).build(), EP)["converges"].valid == UNKNOWN


def test_4_leaving_the_newest_plan_for_longer_than_the_bound_after_converging_is_a_violation() -> None:
    h = healthy_run()      # converged when the fault stopped (5 s); the live plan deleted at 8.5 s
    h.rows = [r for r in h.rows if not (r["source"] == "client" and r["t"] >= T0 + 9.0)]
    h.delete_plan(8.5, "enactor-c", 4)
    h.both(9.0, 20.0, "fail")
    assert check_history(h.build(), EP)["converges"].valid == UNKNOWN       # off for 11.5 s so far
    h.both(20.0, 25.0, "fail")
    verdict = check_history(h.build(), EP)["converges"]
    assert verdict.valid is False
    assert "left the newest plan" in verdict.evidence[1] and "which does not exist" in verdict.evidence[1]


def test_4_late_convergence_and_late_clients_are_violations() -> None:
    h = healthy_run()
    h.fault("partition", "enactor-a", 8.0, 9.5, 2)
    h.plan_created(9.0, 5)
    h.write_plan(24.0, "enactor-b", 5)
    h.point(25.0, "enactor-b", 5, 4)       # 15.5 s after the last fault stopped (bound 15 s)
    verdict = check_history(h.build(), EP)["converges"]
    assert verdict.valid is False and "15.5 s after the last fault" in verdict.evidence[0]

    clients = deletion_run(5.5 + 15.0 + 4.0)   # converged at once, but the resolver stays empty too long
    verdict = check_history(clients.build(), EP)["converges"]
    assert verdict.valid is False and "still answered EMPTY" in verdict.evidence[-1]


def test_4_is_judged_from_the_dns_faults_not_from_the_end_of_a_longer_storage_cut() -> None:
    # CASCADE=1: the storage node cut from 2 s to 60 s. (4)'s clock starts when the partition stops
    # (9.5 s), so converging at 25 s is late; counted from the cut's stop it would be early.
    h = healthy_run()
    h.fault("partition", "enactor-a", 8.0, 9.5, 2)
    h.fault("partition-dynamodb", "dynamodb", 2.0, 60.0, 3)
    h.plan_created(9.0, 5)
    h.write_plan(24.0, "enactor-b", 5)
    h.point(25.0, "enactor-b", 5, 4)
    verdict = check_history(h.build(), EP)["converges"]
    assert verdict.valid is False and "15.5 s after the last fault" in verdict.evidence[0]


def test_4_the_negative_cache_lag_within_its_bound_is_fine() -> None:
    verdict = check_history(deletion_run(5.5 + 15.0).build(), EP)["converges"]
    assert verdict.valid is True, verdict.evidence
    assert verdict.measures["converge_s"] == pytest.approx(1.0, abs=0.01)


def test_4_a_fault_that_never_stopped_makes_it_unknown() -> None:
    h = healthy_run().fault("partition", "enactor-c", 6.0, None, 2)
    assert check_history(h.build(), EP)["converges"].valid == UNKNOWN


# (5) no lost batch ---------------------------------------------------------------------------------------

def test_5_an_acknowledged_batch_missing_from_the_audit_is_a_violation() -> None:
    h = healthy_run()
    h.fault("kill-dns-admin", "dns-admin", 6.0, 7.0, 2)
    h.event(6.5, "enactor-a", "cleanup_deleted", "plan-000001", change_id="change-000009")
    verdict = check_history(h.build(), EP)["no-lost-batch"]
    assert verdict.valid is False
    assert verdict.evidence[0] == "change-000009, acknowledged to enactor-a, is not in the audit as accepted"


def test_5_a_change_number_given_twice_is_a_lost_batch() -> None:
    h = healthy_run()
    h.event(8.0, "enactor-a", "record_set_written", change_id="change-000008")  # the audit has it as enactor-b's
    verdict = check_history(h.build(), EP)["no-lost-batch"]
    assert verdict.valid is False and "given again" in verdict.evidence[0]


def test_5_a_batch_whose_answer_was_lost_may_be_missing_and_the_final_zone_must_replay() -> None:
    h = healthy_run()
    # info: dns-admin could not say whether it committed; the enactor saw a dropped connection.
    h.event(8.0, "dns-admin", "batch_outcome_unknown", change_id="change-000042", client="enactor-a")
    h.event(8.1, "enactor-a", "apply_failed", "plan-000004", error="DnsAdminUnavailable: ServerDisconnectedError")
    zone = [{"name": EP, "type": "ALIAS", "target": plan(4)}] + [
        {"name": plan(g), "type": "A", "ttl": 1, "records": [{"address": "10.0.0.1", "weight": 1}]} for g in range(1, 5)]
    h.observe(12.5, serial=9, record_sets=zone)
    assert check_history(h.build(), EP)["no-lost-batch"].valid is True
    h.observe(12.6, serial=9, record_sets=zone[:-1])    # the store lost plan 4's record set
    verdict = check_history(h.build(), EP)["no-lost-batch"]
    assert verdict.valid is False and "differs from its audit's replay" in verdict.evidence[0]


# (6) no crash loop ---------------------------------------------------------------------------------------

def test_6_restarts_up_to_the_kills_are_fine_and_more_is_a_crash_loop() -> None:
    h = healthy_run()
    h.fault("kill-enactor", "enactor-c", 6.0, 7.0, 2)
    h.event(7.1, "enactor-c", "enactor_started")
    assert check_history(h.build(), EP)["no-crash-loop"].valid is True
    for t in (8.0, 9.0):
        h.event(t, "enactor-a", "enactor_crashed", exception="AliasTargetMissing")
    h.observe(12.5, restart_counts={"enactor-a": 2, "enactor-b": 0, "enactor-c": 0})
    verdict = check_history(h.build(), EP)["no-crash-loop"]
    assert verdict.valid is False
    assert verdict.evidence[0].startswith("enactor-a: 2 restart(s)") and "AliasTargetMissing" in verdict.evidence[0]


def test_6_says_what_the_enactor_died_of_and_how_many_deaths_it_never_explained() -> None:
    # Issue 27: Docker's restart count was the only witness. A crash event names the line; a restart
    # with none is counted apart, as a death from outside.
    h = healthy_run()
    h.event(8.0, "enactor-a", "enactor_crashed", exception="CancelledError",
            raised_at="/usr/lib/python3.11/asyncio/tasks.py:466")
    h.observe(12.5, restart_counts={"enactor-a": 3, "enactor-b": 0, "enactor-c": 0})
    verdict = check_history(h.build(), EP)["no-crash-loop"]
    assert verdict.valid is False
    assert "crashed with CancelledError at /usr/lib/python3.11/asyncio/tasks.py:466" in verdict.evidence[0]
    assert "2 restart(s) with no crash event" in verdict.evidence[0]


def test_6_nothing_to_count_is_unknown() -> None:
    h = healthy_run()
    h.rows = [r for r in h.rows if r["source"] != "observation" and r.get("kind") != "enactor_started"]
    assert check_history(h.build(), EP)["no-crash-loop"].valid == UNKNOWN


def test_overall_false_beats_unknown() -> None:
    verdicts = check_history(outage_run(12.0).build(), EP)
    assert verdicts["converges"].valid == UNKNOWN and overall(verdicts) is False
