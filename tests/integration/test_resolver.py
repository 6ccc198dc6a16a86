"""The endpoint, as a client sees it through the real CoreDNS on the published port."""

from __future__ import annotations

import json
import secrets
import time

import pytest

from .stack import ENDPOINT, Stack, wait_for

pytestmark = pytest.mark.integration

K_DEFAULT = 5


def plan_addresses(plan: dict) -> set[str]:
    return {t["address"] for t in plan["targets"]}


def test_endpoint_answers_the_newest_plans_addresses_over_udp_and_tcp(stack: Stack) -> None:
    def matches_newest(tcp: bool) -> bool:
        plan = stack.newest_plan()
        answer = stack.query(tcp=tcp)
        return answer.rcode == "NOERROR" and answer.addresses == plan_addresses(plan)

    wait_for("UDP answer equals the newest plan's addresses", lambda: matches_newest(False), within_s=30)
    wait_for("TCP answer equals the newest plan's addresses", lambda: matches_newest(True), within_s=30)
    plan = stack.newest_plan()
    assert len(plan["targets"]) == 3, plan
    assert plan["id"] == f"plan-{plan['generation']:06d}"


def test_endpoint_alias_follows_the_plans(stack: Stack) -> None:
    first = stack.newest_plan()["generation"]

    def pointed_past_first() -> int | None:
        alias = stack.record_set(ENDPOINT, "ALIAS")
        generation = int(alias["target"].split(".")[0].removeprefix("plan-")) if alias else 0
        return generation if generation > first else None

    # Plans tick every 2 s; three of them must reach the endpoint well within 30 s.
    wait_for("the endpoint alias moves to a newer plan", pointed_past_first, within_s=30)


def test_a_failed_backend_leaves_the_answer_and_returns_when_healed(stack: Stack) -> None:
    plan = wait_for("a plan with all three backends",
                    lambda: p if len((p := stack.newest_plan())["targets"]) == 3 else None, within_s=30)
    address = next(t["address"] for t in plan["targets"] if t["backend"] == "backend-2")
    stack.compose("exec", "-T", "backend-2", "python3", "-m", "dnsrace_backend.control", "fail")
    try:
        started = time.monotonic()
        wait_for(f"{address} (backend-2) leaves the answer",
                 lambda: (a := stack.query()).rcode == "NOERROR" and a.addresses and address not in a.addresses,
                 within_s=20)
        print(f"backend-2 left the answer after {time.monotonic() - started:.2f} s")
        assert address not in plan_addresses(stack.newest_plan())
    finally:
        stack.compose("exec", "-T", "backend-2", "python3", "-m", "dnsrace_backend.control", "heal")
    started = time.monotonic()
    wait_for(f"{address} (backend-2) returns to the answer", lambda: address in stack.query().addresses, within_s=20)
    print(f"backend-2 returned after {time.monotonic() - started:.2f} s")


def test_a_missing_name_is_nxdomain_with_the_negative_ttl_on_its_soa(stack: Stack) -> None:
    answer = stack.query("no-such-name.lab.test", authoritative_view=True)
    assert answer.rcode == "NXDOMAIN"
    assert answer.addresses == set()
    assert answer.soa_ttl == 15  # NEGATIVE_TTL_S: how long resolvers may cache "no such name"
    assert answer.authoritative
    cached = stack.query("no-such-name.lab.test")
    assert cached.rcode == "NXDOMAIN" and cached.soa_ttl is not None and cached.soa_ttl <= 15


def test_a_cached_negative_answer_outlives_the_fix_for_a_while_then_expires(stack: Stack) -> None:
    # The lag clients see after a repair, shown on a name of its own: the resolver caches "no such
    # name", the name is created, the authoritative view answers it, and the resolver still does not.
    name = f"negative-{secrets.token_hex(4)}.lab.test"
    cached = stack.query(name)
    assert cached.rcode == "NXDOMAIN" and cached.soa_ttl is not None and 0 < cached.soa_ttl <= 15
    record_set = {"name": name, "type": "A", "ttl": 1, "records": [{"address": "192.0.2.55", "weight": 1}]}
    status, body = stack.admin("POST", "/v1/changes", {"changes": [{"action": "CREATE", "record_set": record_set}],
                                                       "client": "it"})
    assert status == 200, body
    wait_for("the authoritative view answers the new name",
             lambda: stack.query(name, authoritative_view=True).addresses == {"192.0.2.55"}, within_s=15)
    still = stack.query(name)  # asked after the authoritative answer: the cached denial is all it has
    assert (still.rcode, still.addresses) == ("NXDOMAIN", set()), still
    assert still.soa_ttl is not None and still.soa_ttl <= cached.soa_ttl  # the same entry, counting down
    wait_for("the resolver answers once the negative answer expires",
             lambda: stack.query(name).addresses == {"192.0.2.55"}, within_s=30)
    delete = {"action": "DELETE", "record_set": record_set}
    assert stack.admin("POST", "/v1/changes", {"changes": [delete], "client": "it"})[0] == 200, json.dumps(delete)


def test_the_authoritative_view_agrees_with_dns_admin(stack: Stack) -> None:
    def agree() -> bool:
        alias = stack.record_set(ENDPOINT, "ALIAS")
        target = stack.record_set(alias["target"], "A")
        expected = {r["address"] for r in target["records"]} if target else set()
        return stack.query(authoritative_view=True).addresses == expected

    wait_for("the authoritative answer equals the alias target's records", agree, within_s=15)
