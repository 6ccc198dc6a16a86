"""The enactors' protocol, observed from outside: rollback, cleanup, isolation, events, timeline."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from dnsrace.plans import generation_of_record_name
from dnsrace_lab.stack.names import ENACTORS

from .stack import ENDPOINT, Stack, wait_for

pytestmark = pytest.mark.integration

KEEP_GENERATIONS = 5  # CLEANUP_KEEP_GENERATIONS in docker-compose.yml


def generation(target: str) -> int:
    return int(target.split(".", 1)[0].removeprefix("plan-"))


Key = tuple[str, str]  # (name, type)
ROLLBACK = f"rollback.{ENDPOINT}"


def plan_generation(name: str | None) -> int | None:
    """plan-000145.<endpoint> -> 145; any other name (or None) -> None."""
    return generation_of_record_name(name, ENDPOINT) if name is not None else None


@dataclass
class Zone:
    """One zone state, replayed from dns-admin's audit: accepted batches applied in change order."""

    record_sets: dict[Key, dict[str, Any]]

    def target(self, name: str) -> str | None:
        alias = self.record_sets.get((name, "ALIAS"))
        return alias["target"] if alias else None

    def plans(self) -> list[int]:
        return sorted(g for (name, type_) in self.record_sets if type_ == "A" and (g := plan_generation(name)))

    def after(self, batch: dict[str, Any]) -> Zone:
        record_sets = dict(self.record_sets)
        for change in batch["changes"]:
            record_set = change["record_set"]
            key = (record_set["name"].lower().rstrip("."), record_set["type"])
            if change["action"] == "DELETE":
                del record_sets[key]
            else:
                record_sets[key] = record_set
        return Zone(record_sets)


def audited_states(stack: Stack, *, moves_min: int, deletions_min: int, within_s: float) -> list[tuple[dict, Zone, Zone]]:
    """(audit row, zone before, zone after) for every batch dns-admin accepts from now until the
    window holds `moves_min` moves of the endpoint and `deletions_min` deletions of plans."""
    status, listing = stack.admin("GET", "/v1/record-sets")
    assert status == 200, listing
    # One response holds the listing and its serial; serial = change number + 1, so the first batch
    # after this listing is the one numbered `serial`.
    first = listing["serial"]
    start = Zone({(rs["name"], rs["type"]): rs for rs in listing["record_sets"]})

    def accepted_since() -> list[dict]:
        rows = stack.admin("GET", "/v1/audit?limit=1000")[1]["entries"]
        return sorted((r for r in rows if r["outcome"] == "accepted" and int(r["change_id"][7:]) >= first),
                      key=lambda r: int(r["change_id"][7:]))

    def enough() -> list[dict] | None:
        rows = accepted_since()
        states = replay(start, rows)
        moves = sum(1 for _, before, after in states if before.target(ENDPOINT) != after.target(ENDPOINT))
        deletions = sum(1 for _, before, after in states if len(after.plans()) < len(before.plans()))
        return rows if moves >= moves_min and deletions >= deletions_min else None

    rows = wait_for(f"{moves_min} endpoint moves and {deletions_min} plan deletions in the audit", enough,
                    within_s=within_s, every_s=1.0)
    numbers = [int(r["change_id"][7:]) for r in rows]
    assert numbers == list(range(first, first + len(rows))), "the audit window has a gap: it cannot be replayed"
    return replay(start, rows)


def replay(start: Zone, rows: list[dict]) -> list[tuple[dict, Zone, Zone]]:
    states, zone = [], start
    for row in rows:
        after = zone.after(row["batch"])
        states.append((row, zone, after))
        zone = after
    return states


def test_every_zone_state_keeps_the_endpoint_the_rollback_and_cleanup_right(stack: Stack) -> None:
    # A young stack has fewer than K+1 plans and nothing to clean: wait until cleanup has had work.
    wait_for("more than K+2 plans published", lambda: stack.newest_plan()["generation"] > KEEP_GENERATIONS + 2,
             within_s=60)
    states = audited_states(stack, moves_min=5, deletions_min=3, within_s=90)
    steps_with_rollback_at_n_minus_1 = 0
    for row, before, after in states:
        where = f"{row['change_id']} from {row['client']} ({row['comment']})"
        live, previous = after.target(ENDPOINT), before.target(ENDPOINT)
        # The endpoint always aliases a plan that exists (it never answers empty), and only forward.
        assert plan_generation(live) is not None and (live, "A") in after.record_sets, where
        if plan_generation(previous) is not None:
            assert plan_generation(live) >= plan_generation(previous), f"{where}: endpoint went back"
        # The rollback record, whenever a batch moves it, aliases what the endpoint aliased before that
        # batch (the previous plan), and whatever it aliases exists: one step back is always possible.
        rollback = after.target(ROLLBACK)
        if rollback != before.target(ROLLBACK):
            assert rollback == previous, f"{where}: rollback -> {rollback}, the endpoint was at {previous}"
        if plan_generation(live) == (plan_generation(previous) or -1) + 1 and rollback == previous:
            steps_with_rollback_at_n_minus_1 += 1
        assert rollback is None or (rollback, "A") in after.record_sets, f"{where}: rollback -> a missing plan"
        # Cleanup deletes only plans more than K generations older than the live plan, and the zone
        # never holds more than K+2 plan record sets (K+1, plus the next one between its write and
        # the cleanup after it).
        for gone in sorted(set(before.plans()) - set(after.plans())):
            assert gone < plan_generation(previous or live) - KEEP_GENERATIONS, f"{where}: deleted plan {gone}"
        assert len(after.plans()) <= KEEP_GENERATIONS + 2, f"{where}: {after.plans()}"
    assert steps_with_rollback_at_n_minus_1 >= 1, "no batch moved the endpoint from plan N-1 to N, rollback at N-1"


def test_cleanup_settles_at_most_k_plus_one_plans(stack: Stack) -> None:
    wait_for("more than K+2 plans published", lambda: stack.newest_plan()["generation"] > KEEP_GENERATIONS + 2,
             within_s=60)

    def settled() -> list[int] | None:
        names = [rs["name"] for rs in stack.record_sets() if rs["type"] == "A" and rs["name"].endswith(ENDPOINT)]
        generations = sorted(generation(n) for n in names if n.startswith("plan-"))
        live = generation(stack.record_set(ENDPOINT, "ALIAS")["target"])
        # Between writing plan N's record set and its cleanup there are briefly K+2; settled means
        # cleanup after the live plan has run.
        return generations if generations and generations[-1] == live and len(generations) <= KEEP_GENERATIONS + 1 else None

    generations = wait_for("a settled zone with at most K+1 plan record sets", settled, within_s=30)
    assert generations[0] >= generations[-1] - KEEP_GENERATIONS
    events = stack.events()
    assert any(e["kind"] == "cleanup_deleted" for e in events)


def test_enactors_cannot_reach_redis_or_dns_admin_except_through_toxiproxy(stack: Stack) -> None:
    probe = ("import socket,sys\n"
             "for host, port in (('redis', 6379), ('dns-admin', 8080), ('toxiproxy', 21001)):\n"
             "    try:\n"
             "        socket.create_connection((host, port), timeout=2).close(); print(host, 'reachable')\n"
             "    except OSError as error:\n"
             "        print(host, 'unreachable', type(error).__name__)\n")
    out = stack.compose("exec", "-T", "enactor-a", "python3", "-c", probe).stdout
    assert "redis unreachable" in out, out
    assert "dns-admin unreachable" in out, out
    assert "toxiproxy reachable" in out, out


def test_every_decision_is_an_event_with_seq_service_plan_and_token(stack: Stack) -> None:
    events = stack.events()
    kinds = {e["kind"] for e in events}
    for kind in ("plan_created", "check_passed", "lock_acquired", "record_set_written", "endpoint_pointed",
                 "lock_released", "batch_accepted", "zone_rendered"):
        assert kind in kinds, f"no {kind} event among {sorted(kinds)}"
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "seq must be unique and increasing"
    pointed = [e for e in events if e["kind"] == "endpoint_pointed"]
    assert all(e["plan"].startswith("plan-") and isinstance(e["token"], int) for e in pointed)
    assert {e["service"] for e in pointed} <= set(ENACTORS)
    assert {e["service"] for e in events} >= {"planner", "dns-admin", *ENACTORS}


def test_the_timeline_prints_sentences(stack: Stack) -> None:
    out = stack.compose("exec", "-T", "dns-admin", "python3", "-m", "dnsrace.timeline", "--last", "40").stdout
    lines = out.strip().splitlines()
    assert len(lines) == 40, out
    assert any("pointed dynamodb.us-east-1.lab.test at plan-" in line for line in lines), out
    assert all(line.lstrip().startswith("+") for line in lines), out


def test_containers_are_healthy_and_enactors_have_not_crashed(stack: Stack) -> None:
    stack.wait_healthy(120)  # docker's healthchecks run every 30 s
    for service in ENACTORS:
        state = stack.inspect(service)["State"]
        assert state["Status"] == "running"
    crashes = [e for e in stack.events() if e["kind"] == "enactor_crashed"
               and e["detail"].get("exception") not in ("DnsAdminUnavailable", "ConnectionError", "TimeoutError")]
    assert crashes == [], crashes  # restarts of Redis/dns-admin in other tests may crash legacy enactors; nothing else may


def test_dig_works_against_the_published_port(stack: Stack) -> None:
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(stack.ports["dns"]), ENDPOINT, "A", "+short", "+tcp"],
                         capture_output=True, text=True, timeout=10, check=True).stdout.split()
    assert len(out) == 3, out
