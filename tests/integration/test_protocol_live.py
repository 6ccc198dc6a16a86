"""The enactors' protocol, observed from outside: rollback, cleanup, isolation, events, timeline."""

from __future__ import annotations

import subprocess

from .stack import ENDPOINT, Stack, wait_for

KEEP_GENERATIONS = 5  # CLEANUP_KEEP_GENERATIONS in docker-compose.yml


def generation(target: str) -> int:
    return int(target.split(".", 1)[0].removeprefix("plan-"))


def test_the_rollback_record_points_at_the_previous_plan(stack: Stack) -> None:
    def consistent_pair() -> tuple[int, int] | None:
        endpoint = stack.record_set(ENDPOINT, "ALIAS")
        rollback = stack.record_set(f"rollback.{ENDPOINT}", "ALIAS")
        again = stack.record_set(ENDPOINT, "ALIAS")
        if not (endpoint and rollback and again) or endpoint != again:
            return None  # the endpoint moved between reads; read again
        pair = generation(endpoint["target"]), generation(rollback["target"])
        return pair if pair[1] == pair[0] - 1 else None

    live, previous = wait_for("rollback -> plan N-1 while the endpoint -> plan N", consistent_pair, within_s=30)
    assert stack.record_set(f"plan-{previous:06d}.{ENDPOINT}", "A") is not None


def test_cleanup_keeps_at_most_k_plus_one_plans(stack: Stack) -> None:
    # A young stack has fewer than K+1 plans and nothing to clean: wait until cleanup has had work.
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
    assert {e["service"] for e in pointed} <= {"enactor-a", "enactor-b", "enactor-c"}
    assert {e["service"] for e in events} >= {"planner", "dns-admin", "enactor-a", "enactor-b", "enactor-c"}


def test_the_timeline_prints_sentences(stack: Stack) -> None:
    out = stack.compose("exec", "-T", "dns-admin", "python3", "-m", "dnsrace.timeline", "--last", "40").stdout
    lines = out.strip().splitlines()
    assert len(lines) == 40, out
    assert any("pointed dynamodb.us-east-1.lab.test at plan-" in line for line in lines), out
    assert all(line.lstrip().startswith("+") for line in lines), out


def test_containers_are_healthy_and_enactors_have_not_crashed(stack: Stack) -> None:
    stack.wait_healthy(120)  # docker's healthchecks run every 30 s
    for service in ("enactor-a", "enactor-b", "enactor-c"):
        state = stack.inspect(service)["State"]
        assert state["Status"] == "running"
    crashes = [e for e in stack.events() if e["kind"] == "enactor_crashed"
               and e["detail"].get("exception") not in ("DnsAdminUnavailable", "ConnectionError", "TimeoutError")]
    assert crashes == [], crashes  # restarts of Redis/dns-admin in other tests may crash legacy enactors; nothing else may


def test_dig_works_against_the_published_port(stack: Stack) -> None:
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(stack.ports["dns"]), ENDPOINT, "A", "+short", "+tcp"],
                         capture_output=True, text=True, timeout=10, check=True).stdout.split()
    assert len(out) == 3, out
