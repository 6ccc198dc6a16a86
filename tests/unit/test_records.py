"""dnsrace.records: the shared model must refuse anything that could smuggle zone-file syntax."""

from __future__ import annotations

from typing import Any

import pytest

from dnsrace.errors import UnexpectedResponse
from dnsrace.records import (
    AliasTargetMissing,
    ARecord,
    Change,
    ChangeBatch,
    ChangeConflict,
    DnsAdminError,
    InvalidInput,
    NameConflict,
    RecordSet,
    RecordSetExists,
    RecordSetMismatch,
    RecordSetMissing,
    RecordSetNotFound,
    error_from_json,
    normalize_name,
    normalize_zone,
    validate_ipv4,
)

ZONE = "lab.test"


def a_json(name: str = "plan-000001.ep.lab.test", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "type": "A", "ttl": 60, "records": [{"address": "10.0.0.1", "weight": 1}]}
    body.update(overrides)
    return body


def batch_json(*record_sets: dict[str, Any], action: str = "UPSERT", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"changes": [{"action": action, "record_set": rs} for rs in record_sets]}
    body.update(overrides)
    return body


# --- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a.lab.test", "a.lab.test"),
        ("A.Lab.Test.", "a.lab.test"),
        ("plan-000145.dynamodb.us-east-1.lab.test", "plan-000145.dynamodb.us-east-1.lab.test"),
        ("x-1.y2.lab.test", "x-1.y2.lab.test"),
        ("0.lab.test", "0.lab.test"),
        ("a" * 63 + ".lab.test", "a" * 63 + ".lab.test"),
    ],
)
def test_normalize_name_accepts_names_inside_the_zone(raw: str, expected: str) -> None:
    assert normalize_name(raw, zone=ZONE) == expected


def _name_of_length(length: int) -> str:
    suffix = ".lab.test"
    body = length - len(suffix)
    labels = []
    while body > 0:
        size = min(63, body)
        if body - size == 1:  # never leave a lone dot with no label after it
            size -= 1
        labels.append("a" * size)
        body -= size + 1
    name = ".".join(labels) + suffix
    assert len(name) == length
    return name


@pytest.mark.parametrize(
    "raw",
    [
        "a.lab.test\n@ IN A 1.2.3.4",  # zone-file injection
        "a.lab.test\n",
        "a b.lab.test",
        "a;b.lab.test",
        "$include.lab.test",
        "*.lab.test",
        "_srv.lab.test",
        ".lab.test",
        "a..lab.test",
        "a.lab.test..",
        "lab.test",  # the apex
        "lab.test.",
        "x.example.com",
        "xlab.test",  # suffix without a label boundary
        "a.lab.test.example",
        "-a.lab.test",
        "a-.lab.test",
        "a" * 64 + ".lab.test",  # 64-character label
        "ns.lab.test",  # reserved for the zone's name server
        "bücher.lab.test",  # unicode
        "\u212a.lab.test",  # Kelvin sign: lowercases to ASCII 'k'
        "",
        ".",
    ],
)
def test_normalize_name_rejects(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_name(raw, zone=ZONE)


def test_name_length_bound_is_253_without_trailing_dot() -> None:
    assert normalize_name(_name_of_length(253), zone=ZONE) == _name_of_length(253)
    assert normalize_name(_name_of_length(253) + ".", zone=ZONE) == _name_of_length(253)
    with pytest.raises(InvalidInput, match="longer than 253"):
        normalize_name(_name_of_length(254), zone=ZONE)


@pytest.mark.parametrize("raw", [None, 5, b"a.lab.test", ["a.lab.test"]])
def test_normalize_name_rejects_non_strings(raw: Any) -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        normalize_name(raw, zone=ZONE)


def test_normalize_zone() -> None:
    assert normalize_zone("Lab.Test.") == "lab.test"
    for bad in ("test", "", "lab..test", "lab test"):
        with pytest.raises(InvalidInput):
            normalize_zone(bad)


# --- addresses, weights, ttls ------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["10.0.0.1", "192.168.1.254", "127.0.0.1", "172.18.0.5", "8.8.8.8"])
def test_validate_ipv4_accepts_unicast(address: str) -> None:
    assert validate_ipv4(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "010.0.0.1",  # leading zero
        "10.0.0.01",
        "256.0.0.1",
        "10.0.0",
        "10.0.0.1.2",
        "::1",
        "",
        " 10.0.0.1",
        "10.0.0.1\n",
        "10.0.0.1 ; x",
        "0.0.0.0",  # unspecified
        "224.0.0.1",  # multicast
        "255.255.255.255",  # broadcast
        "0x0a.0.0.1",
    ],
)
def test_validate_ipv4_rejects(address: str) -> None:
    with pytest.raises(InvalidInput):
        validate_ipv4(address)


@pytest.mark.parametrize("address", [None, 167772161, ["10.0.0.1"]])
def test_validate_ipv4_rejects_non_strings(address: Any) -> None:
    with pytest.raises(InvalidInput, match="expected a string"):
        validate_ipv4(address)


@pytest.mark.parametrize("weight", [0, 1, 255])
def test_weight_bounds_accepted(weight: int) -> None:
    record_set = RecordSet.from_json(a_json(records=[{"address": "10.0.0.1", "weight": weight}]), zone=ZONE)
    assert record_set.records[0].weight == weight


@pytest.mark.parametrize("weight", [-1, 256, True, False, 1.0, "1", None])
def test_weight_bounds_rejected(weight: Any) -> None:
    with pytest.raises(InvalidInput, match=r"records\[0\]\.weight"):
        RecordSet.from_json(a_json(records=[{"address": "10.0.0.1", "weight": weight}]), zone=ZONE)


@pytest.mark.parametrize("ttl", [0, 60, 86400])
def test_ttl_bounds_accepted(ttl: int) -> None:
    assert RecordSet.from_json(a_json(ttl=ttl), zone=ZONE).ttl == ttl


@pytest.mark.parametrize("ttl", [-1, 86401, True, 60.0, "60", None])
def test_ttl_bounds_rejected(ttl: Any) -> None:
    with pytest.raises(InvalidInput, match="ttl"):
        RecordSet.from_json(a_json(ttl=ttl), zone=ZONE)


# --- record sets -------------------------------------------------------------------------------------


def test_a_record_set_round_trip() -> None:
    body = a_json(records=[{"address": "10.0.0.2", "weight": 3}, {"address": "10.0.0.1", "weight": 0}])
    record_set = RecordSet.from_json(body, zone=ZONE)
    assert record_set == RecordSet.a(
        "plan-000001.ep.lab.test", 60, [ARecord("10.0.0.2", 3), ARecord("10.0.0.1", 0)]
    )
    assert record_set.to_json() == body
    assert RecordSet.from_json(record_set.to_json(), zone=ZONE) == record_set


def test_alias_round_trip_and_normalization() -> None:
    record_set = RecordSet.from_json(
        {"name": "EP.lab.test.", "type": "ALIAS", "target": "Plan-000001.EP.lab.test"}, zone=ZONE
    )
    assert record_set == RecordSet.alias("ep.lab.test", "plan-000001.ep.lab.test")
    assert record_set.to_json() == {"name": "ep.lab.test", "type": "ALIAS", "target": "plan-000001.ep.lab.test"}
    assert record_set.ttl is None and record_set.records == ()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (a_json(extra=1), "unknown key 'extra'"),
        (a_json(target="x.lab.test"), "A record set has no target"),
        (a_json(type="CNAME"), "type: expected one of A, ALIAS"),
        (a_json(type="a"), "type"),
        (a_json(records=[]), "1..100 records"),
        (a_json(records=[{"address": f"10.0.{i // 200}.{i % 200 + 1}", "weight": 1} for i in range(101)]), "1..100"),
        (a_json(records=[{"address": "10.0.0.1", "weight": 1}, {"address": "10.0.0.1", "weight": 2}]), "duplicate address"),
        (a_json(records=[{"address": "10.0.0.1", "weight": 1, "port": 80}]), "unknown key 'port'"),
        (a_json(records=[{"address": "10.0.0.1"}]), "missing key 'weight'"),
        (a_json(records="10.0.0.1"), "expected a list"),
        (a_json(records=["10.0.0.1"]), "expected an object"),
        ({"name": "a.lab.test", "type": "A", "records": [{"address": "10.0.0.1", "weight": 1}]}, "missing key 'ttl'"),
        ({"type": "A", "ttl": 1, "records": []}, "missing key 'name'"),
        ({"name": "a.lab.test", "type": "ALIAS", "target": "b.lab.test", "ttl": 60}, "carries no ttl"),
        ({"name": "a.lab.test", "type": "ALIAS", "target": "b.lab.test", "records": []}, "no records of its own"),
        ({"name": "a.lab.test", "type": "ALIAS"}, "missing key 'target'"),
        ({"name": "a.lab.test", "type": "ALIAS", "target": "a.lab.test"}, "cannot point at itself"),
        ({"name": "a.lab.test", "type": "ALIAS", "target": "b.example.com"}, "not inside the zone"),
        ({"name": "a.lab.test", "type": "ALIAS", "target": "lab.test"}, "apex"),
        ("a.lab.test", "expected an object"),
        (["a.lab.test"], "expected an object"),
    ],
)
def test_record_set_from_json_rejects(body: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        RecordSet.from_json(body, zone=ZONE)


def test_direct_construction_cannot_build_invalid_record_sets() -> None:
    with pytest.raises(InvalidInput):
        RecordSet(name="A.lab.test", type="A", ttl=60, records=(ARecord("10.0.0.1", 1),), target=None)
    with pytest.raises(InvalidInput):
        RecordSet.a("a.lab.test", 60, [])
    with pytest.raises(InvalidInput):
        RecordSet.a("a.lab.test\n", 60, [ARecord("10.0.0.1", 1)])
    with pytest.raises(InvalidInput):
        ARecord("10.0.0.01", 1)
    with pytest.raises(InvalidInput):
        ARecord("10.0.0.1", True)
    with pytest.raises(InvalidInput):
        RecordSet.alias("a.lab.test", "a.lab.test")


def test_same_value_ignores_record_order_only() -> None:
    one = RecordSet.a("a.lab.test", 60, [ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 2)])
    assert one.same_value(RecordSet.a("a.lab.test", 60, [ARecord("10.0.0.2", 2), ARecord("10.0.0.1", 1)]))
    assert not one.same_value(RecordSet.a("a.lab.test", 61, [ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 2)]))
    assert not one.same_value(RecordSet.a("a.lab.test", 60, [ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 3)]))
    assert not one.same_value(RecordSet.a("a.lab.test", 60, [ARecord("10.0.0.1", 1)]))
    assert not one.same_value(RecordSet.a("b.lab.test", 60, [ARecord("10.0.0.1", 1), ARecord("10.0.0.2", 2)]))
    alias = RecordSet.alias("ep.lab.test", "a.lab.test")
    assert alias.same_value(RecordSet.alias("ep.lab.test", "a.lab.test"))
    assert not alias.same_value(RecordSet.alias("ep.lab.test", "b.lab.test"))


# --- changes and batches -----------------------------------------------------------------------------


def test_batch_round_trip_and_describe() -> None:
    body = batch_json(
        a_json(),
        {"name": "ep.lab.test", "type": "ALIAS", "target": "plan-000001.ep.lab.test"},
        comment="apply plan-000001",
        client="enactor-a",
    )
    batch = ChangeBatch.from_json(body, zone=ZONE)
    assert batch.client == "enactor-a" and batch.comment == "apply plan-000001"
    assert ChangeBatch.from_json(batch.to_json(), zone=ZONE) == batch
    assert Change.from_json(body["changes"][0], zone=ZONE) == batch.changes[0]
    assert [change.describe() for change in batch.changes] == [
        "UPSERT A plan-000001.ep.lab.test (1 record, ttl 60)",
        "UPSERT ALIAS ep.lab.test -> plan-000001.ep.lab.test",
    ]


def test_batch_defaults() -> None:
    batch = ChangeBatch.from_json(batch_json(a_json()), zone=ZONE)
    assert batch.comment == "" and batch.client == ""


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({"changes": []}, "1..100 changes"),
        (batch_json(*[a_json(f"p{i}.lab.test") for i in range(101)]), "1..100 changes"),
        ({}, "missing key 'changes'"),
        ({"changes": {}}, "expected a list"),
        (batch_json(a_json(), extra=True), "unknown key 'extra'"),
        (batch_json(a_json(), comment="x" * 257), "comment: longer than 256"),
        (batch_json(a_json(), comment="line\nbreak"), "comment: only printable"),
        (batch_json(a_json(), comment=5), "comment: expected a string"),
        (batch_json(a_json(), client="Enactor-A"), "client"),
        (batch_json(a_json(), client="enactor a"), "client"),
        (batch_json(a_json(), client="e" * 65), "client"),
        (batch_json(a_json(), client=None), "client: expected a string"),
        (batch_json(a_json(), action="REPLACE"), "action: expected one of CREATE, DELETE, UPSERT"),
        (batch_json(a_json(), action="upsert"), "action"),
        ({"changes": [{"action": "UPSERT"}]}, "missing key 'record_set'"),
        ({"changes": [{"action": "UPSERT", "record_set": a_json(), "x": 1}]}, "unknown key 'x'"),
        ([], "expected an object"),
        (None, "expected an object"),
    ],
)
def test_batch_from_json_rejects(body: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        ChangeBatch.from_json(body, zone=ZONE)


def test_invalid_change_names_its_index_and_field() -> None:
    body = batch_json(a_json(), a_json("b.lab.test", records=[{"address": "10.0.0.256", "weight": 1}]))
    with pytest.raises(InvalidInput) as caught:
        ChangeBatch.from_json(body, zone=ZONE)
    assert caught.value.change_index == 1
    assert caught.value.message.startswith("change 1: record_set.records[0].address: '10.0.0.256'")


def test_comment_and_client_bounds_accepted() -> None:
    batch = ChangeBatch.from_json(batch_json(a_json(), comment="x" * 256, client="e" * 64), zone=ZONE)
    assert len(batch.comment) == 256 and len(batch.client) == 64


# --- errors ------------------------------------------------------------------------------------------


def test_error_tree_and_statuses() -> None:
    assert issubclass(InvalidInput, DnsAdminError) and InvalidInput.http_status == 400
    assert RecordSetNotFound.http_status == 404
    for cls in (RecordSetExists, RecordSetMissing, RecordSetMismatch, AliasTargetMissing, NameConflict):
        assert issubclass(cls, ChangeConflict) and cls.http_status == 409
    error = AliasTargetMissing("change 1: boom", change_index=1)
    assert error.code == "AliasTargetMissing"
    assert error.to_json() == {"error": "AliasTargetMissing", "message": "change 1: boom", "change_index": 1}
    assert str(error) == "change 1: boom"


def test_error_from_json_rebuilds_subclasses() -> None:
    for cls in (InvalidInput, RecordSetNotFound, RecordSetExists, RecordSetMissing, RecordSetMismatch, AliasTargetMissing, NameConflict):
        original = cls("message", change_index=2)
        rebuilt = error_from_json(original.http_status, original.to_json())
        assert type(rebuilt) is cls
        assert rebuilt.to_json() == original.to_json()
        assert rebuilt.http_status == original.http_status


def test_error_from_json_unknown_code_keeps_code_and_status() -> None:
    rebuilt = error_from_json(503, {"error": "SomethingNewer", "message": "later", "change_index": None})
    assert type(rebuilt) is DnsAdminError
    assert (rebuilt.code, rebuilt.http_status, rebuilt.message) == ("SomethingNewer", 503, "later")


@pytest.mark.parametrize("body", ["<html>bad gateway</html>", None, {"message": "no code"}, {"error": 5}])
def test_error_from_json_tolerates_foreign_bodies(body: object) -> None:
    rebuilt = error_from_json(502, body)
    assert type(rebuilt) is UnexpectedResponse and isinstance(rebuilt, DnsAdminError)
    assert rebuilt.http_status == 502 and rebuilt.code == "UnexpectedResponse"


def test_error_from_json_keeps_the_wire_status() -> None:
    rebuilt = error_from_json(413, {"error": "InvalidInput", "message": "too big", "change_index": None})
    assert isinstance(rebuilt, InvalidInput) and rebuilt.http_status == 413
