"""dns-admin over its published port: bad input refused with clear errors and changing nothing anywhere
(dns-admin's listing, the zone CoreDNS serves, its answers), acknowledged batches durable, and plans
durable across a SIGKILL of Redis."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from dnsrace.keys import PLANS_GENERATION, PLANS_LATEST, plan_key

from .stack import ENDPOINT, Stack, wait_for

pytestmark = pytest.mark.integration

ZONE = "lab.test"
QUIET_FOR_S = 3.0  # the zone counts as quiet once its serial has not moved for this long


def create(name: str, address: str = "192.0.2.10") -> dict:
    return {"action": "CREATE", "record_set": {"name": name, "type": "A", "ttl": 30,
                                               "records": [{"address": address, "weight": 1}]}}


def unique(label: str) -> str:
    return f"{label}-{secrets.token_hex(4)}.lab.test"


@pytest.mark.parametrize("record_set, fragment", [
    ({"name": "x.lab.test\n@ IN A 6.6.6.6", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.4", "weight": 1}]}, "name"),
    ({"name": "a b.lab.test", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.4", "weight": 1}]}, "name"),
    ({"name": "x.example.com", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.4", "weight": 1}]}, "zone"),
    ({"name": "x.lab.test", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.256", "weight": 1}]}, "address"),
    ({"name": "x.lab.test", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.4", "weight": 999}]}, "weight"),
    ({"name": "x.lab.test", "type": "MX", "ttl": 1, "records": []}, "type"),
])
def test_invalid_record_sets_are_refused_with_400_naming_the_field(stack: Stack, record_set: dict, fragment: str) -> None:
    status, body = stack.admin("POST", "/v1/changes", {"changes": [{"action": "CREATE", "record_set": record_set}]})
    assert status == 400, body
    assert body["error"] == "InvalidInput"
    assert fragment in body["message"].lower(), body["message"]


def test_malformed_json_is_refused(stack: Stack) -> None:
    status, body = stack.admin("POST", "/v1/changes", raw=b"{not json")
    assert status == 400 and body["error"] == "InvalidInput", body


def test_a_batch_failing_at_its_second_change_applies_none_of_it(stack: Stack) -> None:
    first, alias = unique("first"), unique("alias")
    batch = {"changes": [create(first),
                         {"action": "CREATE", "record_set": {"name": alias, "type": "ALIAS", "target": unique("missing")}}]}
    status, body = stack.admin("POST", "/v1/changes", batch)
    assert status == 409 and body["error"] == "AliasTargetMissing" and body["change_index"] == 1, body
    assert stack.record_set(first, "A") is None
    assert stack.record_set(alias, "ALIAS") is None
    status, audit = stack.admin("GET", "/v1/audit?limit=200")
    assert any(entry.get("outcome") == "AliasTargetMissing" for entry in audit["entries"]), audit


def test_delete_must_match_the_current_value_exactly(stack: Stack) -> None:
    name = unique("cas")
    assert stack.admin("POST", "/v1/changes", {"changes": [create(name, "192.0.2.1")]})[0] == 200
    wrong = create(name, "192.0.2.2") | {"action": "DELETE"}
    status, body = stack.admin("POST", "/v1/changes", {"changes": [wrong]})
    assert status == 409 and body["error"] == "RecordSetMismatch", body
    assert stack.record_set(name, "A")["records"] == [{"address": "192.0.2.1", "weight": 1}]
    right = create(name, "192.0.2.1") | {"action": "DELETE"}
    assert stack.admin("POST", "/v1/changes", {"changes": [right]})[0] == 200
    assert stack.record_set(name, "A") is None


# --- bad batches change nothing, anywhere ------------------------------------------------------------


@dataclass(frozen=True)
class ZoneState:
    """The zone as every reader sees it: dns-admin's listing and serial, CoreDNS's serial and answers."""

    record_sets: tuple[str, ...]  # dns-admin's listing, each record set as canonical JSON
    serial: int  # dns-admin's (the serial of the zone file it rendered)
    served_serial: int  # the SOA serial CoreDNS's authoritative view serves
    answers: tuple[tuple[str, str, tuple[str, ...]], ...]  # (name, rcode, addresses) from that view


def served_serial(stack: Stack) -> int:
    response = dns.query.udp(dns.message.make_query(ZONE, dns.rdatatype.SOA), "127.0.0.1",
                             port=stack.ports["dns_auth"], timeout=2.0)
    return int(next(rrset for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA)[0].serial)


def zone_state(stack: Stack, names: tuple[str, ...]) -> ZoneState:
    status, body = stack.admin("GET", "/v1/record-sets")
    assert status == 200, body
    answers = []
    for name in names:
        answer = stack.query(name, authoritative_view=True)
        answers.append((name, answer.rcode, tuple(sorted(answer.addresses))))
    return ZoneState(tuple(json.dumps(rs, sort_keys=True) for rs in body["record_sets"]), body["serial"],
                     served_serial(stack), tuple(answers))


@pytest.fixture
def quiet_zone(stack: Stack) -> Iterator[None]:
    """No plans for the length of a test: the planner is stopped, so the enactors have nothing to
    write and the zone keeps still; started again afterwards, and the test waits for plans to flow."""
    generation = stack.newest_plan()["generation"]
    stack.compose("stop", "planner")
    try:
        last: dict[str, Any] = {}

        def still() -> bool:
            serial = stack.admin("GET", "/healthz")[1]["serial"]
            if last.get("serial") != serial:
                last.update(serial=serial, since=time.monotonic())
                return False
            return time.monotonic() - last["since"] >= QUIET_FOR_S and served_serial(stack) == serial

        wait_for("the zone keeps still with the planner stopped", still, within_s=60, every_s=0.5)
        yield
    finally:
        stack.compose("start", "planner")
        wait_for("plans flow again", lambda: stack.newest_plan()["generation"] > generation, within_s=60)


BAD_BATCHES: list[tuple[str, bytes]] = [
    ("zone-file injection", json.dumps({"changes": [{"action": "CREATE", "record_set": {
        "name": "x.lab.test\n@ IN A 6.6.6.6", "type": "A", "ttl": 1, "records": [{"address": "1.2.3.4", "weight": 1}]}}]}).encode()),
    ("outside the zone", json.dumps({"changes": [create("x.example.com")]}).encode()),
    ("not JSON", b"{not json"),
    ("1e400", b'{"changes": 1e400}'),
    ("lone surrogate in the comment", b'{"changes": [], "comment": "\\ud800"}'),
    ("forged client", json.dumps({"changes": [], "client": "x\n+ 1.0s enactor-b CRASHED"}).encode()),
    ("second change fails", json.dumps({"changes": [create("x.lab.test"), {"action": "CREATE", "record_set": {
        "name": "y.lab.test", "type": "ALIAS", "target": "nope.lab.test"}}]}).encode()),
    ("alias chain", b""),  # built below from the live zone
    ("stale compare-and-swap", b""),  # built below from the live zone
]


def test_bad_batches_change_nothing_in_the_listing_the_served_zone_or_the_answers(stack: Stack, quiet_zone: None) -> None:
    endpoint = stack.record_set(ENDPOINT, "ALIAS")
    assert endpoint is not None
    live = endpoint["target"]
    live_set = stack.record_set(live, "A")
    other = next(rs["name"] for rs in stack.record_sets()
                 if rs["type"] == "A" and rs["name"].startswith("plan-") and rs["name"] != live)
    names = ("x.lab.test", "y.lab.test", ZONE, ENDPOINT, live, other, f"rollback.{ENDPOINT}")
    built = {
        # Delete the live plan and alias its name to another plan: endpoint -> live -> other, a chain.
        "alias chain": {"changes": [{"action": "DELETE", "record_set": live_set},
                                    {"action": "CREATE", "record_set": {"name": live, "type": "ALIAS",
                                                                        "target": other}}]},
        # Move the endpoint with a DELETE of a value it does not have.
        "stale compare-and-swap": {"changes": [
            {"action": "DELETE", "record_set": {"name": ENDPOINT, "type": "ALIAS", "target": f"plan-000001.{ENDPOINT}"}},
            {"action": "CREATE", "record_set": {"name": ENDPOINT, "type": "ALIAS", "target": live}}]},
    }
    audit_before = stack.admin("GET", "/v1/audit?limit=1")[1]["entries"][-1]["seq"]
    before = zone_state(stack, names)

    refused = {}
    for label, raw in BAD_BATCHES:
        status, body = stack.admin("POST", "/v1/changes", raw=raw or json.dumps(built[label]).encode())
        assert status in (400, 409), (label, status, body)
        refused[label] = body["error"]
    assert (refused["alias chain"], refused["stale compare-and-swap"]) == ("AliasChain", "RecordSetMismatch")

    # One good batch after them: once CoreDNS serves it, it has loaded every zone written before it.
    marker = unique("marker")
    status, body = stack.admin("POST", "/v1/changes", {"changes": [create(marker, "192.0.2.99")], "client": "it"})
    assert status == 200, body
    wait_for("CoreDNS serves the marker", lambda: stack.query(marker, authoritative_view=True).addresses == {"192.0.2.99"},
             within_s=15)
    after = zone_state(stack, names)
    marker_json = json.dumps(stack.record_set(marker, "A"), sort_keys=True)
    assert sorted(after.record_sets) == sorted([*before.record_sets, marker_json])
    assert (after.serial, after.served_serial) == (before.serial + 1, before.serial + 1)  # the marker's, nothing else
    assert after.answers == before.answers

    rows = [row for row in stack.admin("GET", "/v1/audit?limit=100")[1]["entries"] if row["seq"] > audit_before]
    assert [row["outcome"] != "accepted" for row in rows] == [True] * len(BAD_BATCHES) + [False]  # one row each
    assert all(row["client"].isprintable() and row["comment"].isprintable() for row in rows)
    assert stack.admin("POST", "/v1/changes", {"changes": [create(marker, "192.0.2.99") | {"action": "DELETE"}]})[0] == 200


# --- durability ---------------------------------------------------------------------------------------


def acknowledged_record(stack: Stack) -> tuple[str, str]:
    name = unique("durable")
    status, body = stack.admin("POST", "/v1/changes", {"changes": [create(name, "192.0.2.77")], "client": "it"})
    assert status == 200, body
    return name, body["change_id"]


def test_an_acknowledged_batch_survives_a_killed_dns_admin(stack: Stack) -> None:
    name, change_id = acknowledged_record(stack)
    stack.compose("kill", "-s", "SIGKILL", "dns-admin")
    stack.compose("start", "dns-admin")
    wait_for("dns-admin healthy again", lambda: stack.admin("GET", "/healthz")[0] == 200, within_s=60)
    assert stack.record_set(name, "A")["records"] == [{"address": "192.0.2.77", "weight": 1}]
    audit = stack.admin("GET", "/v1/audit?limit=1000")[1]["entries"]
    assert any(entry.get("change_id") == change_id for entry in audit)
    wait_for("CoreDNS serves the record after the restart",
             lambda: stack.query(name, authoritative_view=True).addresses == {"192.0.2.77"}, within_s=15)
    stack.wait_ready(120)


@dataclass(frozen=True)
class PlanState:
    counter: int  # dnsrace:plans:generation
    latest: int  # dnsrace:plans:latest
    plans: dict[int, bytes]  # generation -> the stored plan, exactly as stored


def plan_state(stack: Stack, generations: range | None = None) -> PlanState:
    client = stack.redis()
    try:
        counter, latest = int(client.get(PLANS_GENERATION)), int(client.get(PLANS_LATEST))
        wanted = generations if generations is not None else range(max(1, latest - 20), latest + 1)
        plans = {g: text for g in wanted if (text := client.get(plan_key(g))) is not None}
        return PlanState(counter, latest, plans)
    finally:
        client.close()


def test_acknowledged_batches_plans_and_the_generation_counter_survive_a_killed_redis(stack: Stack) -> None:
    name, _ = acknowledged_record(stack)
    before = plan_state(stack)  # acknowledged by Redis, which fsyncs its append-only file on every write
    assert before.latest in before.plans and len(before.plans) >= 2
    stack.compose("kill", "-s", "SIGKILL", "redis")
    stack.compose("start", "redis")

    def readable() -> PlanState | None:
        try:
            return plan_state(stack, range(min(before.plans), before.latest + 1))
        except Exception:  # noqa: BLE001 — refused or LOADING while it restarts; wait_for bounds it
            return None

    after = wait_for("Redis answers again", readable, within_s=60)
    # Nothing acknowledged before the kill is lost or replaced: the counter never goes back (a lost
    # INCR would hand the next plan an old generation), the pointer neither, and every plan is the same.
    assert after.counter >= before.counter, (before.counter, after.counter)
    assert after.latest >= before.latest, (before.latest, after.latest)
    assert after.plans == before.plans
    assert stack.record_set(name, "A") is not None  # dns-admin's store does not depend on Redis

    # Plans flow again, numbered after every plan that existed: no generation is handed out twice.
    wait_for("a plan published after the restart",
                     lambda: p if (p := stack.newest_plan())["generation"] > before.counter else None, within_s=60)
    assert plan_state(stack, range(min(before.plans), before.latest + 1)).plans == before.plans
    stack.wait_ready(120)
