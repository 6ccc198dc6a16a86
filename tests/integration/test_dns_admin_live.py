"""dns-admin over its published port: bad input refused with clear errors, acknowledged batches durable."""

from __future__ import annotations

import secrets

import pytest

from .stack import Stack, wait_for


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
def test_invalid_record_sets_are_refused_with_400_and_change_nothing(stack: Stack, record_set: dict, fragment: str) -> None:
    status, body = stack.admin("POST", "/v1/changes", {"changes": [{"action": "CREATE", "record_set": record_set}]})
    assert status == 400, body
    assert body["error"] == "InvalidInput"
    assert fragment in body["message"].lower(), body["message"]
    assert stack.record_set("x.lab.test", "A") is None


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


def test_acknowledged_batches_and_plans_survive_a_killed_redis(stack: Stack) -> None:
    name, _ = acknowledged_record(stack)
    generation_before = stack.newest_plan()["generation"]
    stack.compose("kill", "-s", "SIGKILL", "redis")
    stack.compose("start", "redis")
    # Plans are in Redis (append-only file, fsync always): the counter must not go backwards.
    wait_for("plans flow again after the Redis restart",
             lambda: stack.newest_plan()["generation"] > generation_before, within_s=60)
    assert stack.record_set(name, "A") is not None  # dns-admin's store does not depend on Redis
    stack.wait_ready(120)
