"""dnsrace.plans: plan ids, record names, and the validation of plans read from Redis."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from dnsrace.plans import (
    GENERATION_MAX,
    TARGETS_MAX,
    MalformedPlan,
    Plan,
    Target,
    generation_of_plan_id,
    generation_of_record_name,
    normalize_endpoint,
    plan_id,
    plan_record_name,
    rollback_record_name,
)
from dnsrace.records import ARecord, RecordSet

ZONE = "lab.test"
EP = "dynamodb.us-east-1.lab.test"


def plan_json(**overrides: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "plan-000145",
        "generation": 145,
        "endpoints": [EP],
        "targets": [
            {"backend": "backend-1", "address": "10.0.0.1", "weight": 10},
            {"backend": "backend-2", "address": "10.0.0.2", "weight": 0},
        ],
        "created_at": 1_700_000_000.5,
        "reason": "health changed",
    }
    obj.update(overrides)
    return obj


def target(address: str, backend: str = "backend-1", weight: int = 1) -> dict[str, Any]:
    return {"backend": backend, "address": address, "weight": weight}


# --- ids and names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("generation", "identifier"),
    [(1, "plan-000001"), (145, "plan-000145"), (999_999, "plan-999999"), (1_000_000, "plan-1000000"),
     (GENERATION_MAX, "plan-999999999")],
)
def test_plan_id_is_zero_padded_and_inverts_through_generation_of_plan_id(generation: int, identifier: str) -> None:
    assert plan_id(generation) == identifier
    assert generation_of_plan_id(identifier) == generation


@pytest.mark.parametrize("generation", [0, -1, GENERATION_MAX + 1])
def test_plan_id_refuses_generations_outside_the_range(generation: int) -> None:
    with pytest.raises(MalformedPlan, match="outside 1..999999999"):
        plan_id(generation)


@pytest.mark.parametrize(
    "text",
    ["plan-145", "plan-00014a", "PLAN-000145", "plan-000145x", " plan-000145", "plan_000145", "plan-",
     "plan-1234567890", "000145", ""],
)
def test_generation_of_plan_id_refuses_text_that_is_not_a_plan_id(text: str) -> None:
    with pytest.raises(MalformedPlan, match="is not a plan id"):
        generation_of_plan_id(text)


@pytest.mark.parametrize("text", ["plan-000000", "plan-0000145", "plan-\u0661\u0662\u0663\u0664\u0665\u0666"])
def test_generation_of_plan_id_refuses_ids_that_plan_id_would_never_write(text: str) -> None:
    with pytest.raises(MalformedPlan):
        generation_of_plan_id(text)


def test_record_names_for_a_plan_and_for_the_rollback() -> None:
    assert plan_record_name("plan-000145", EP) == f"plan-000145.{EP}"
    assert rollback_record_name(EP) == f"rollback.{EP}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (f"plan-000145.{EP}", 145),
        (f"plan-000001.{EP}", 1),
        (EP, None),
        (f"rollback.{EP}", None),
        (f"plan-000145.other.{EP}", None),
        ("plan-000145.dynamodb-ipv6.us-east-1.lab.test", None),
        (f"plan-145.{EP}", None),
        (f"xplan-000145.{EP}", None),
        ("plan-000145", None),
    ],
)
def test_generation_of_record_name_only_reads_plan_sets_of_that_endpoint(name: str, expected: int | None) -> None:
    assert generation_of_record_name(name, EP) == expected


# --- endpoints: dns-admin's name rules, in one place ---------------------------------------------------


def name_of_length(length: int) -> str:
    """A valid name inside lab.test of exactly `length` characters (labels of at most 63)."""
    labels, left = [], length - len(".lab.test")
    while left > 0:
        size = min(63, left if left <= 63 else left - 2)  # leave room for at least "x." after this label
        labels.append("a" * size)
        left -= size + 1
    name = ".".join(labels) + ".lab.test"
    assert len(name) == length, (len(name), length)
    return name


LONGEST_ENDPOINT = len("dynamodb.") + 253 - len("plan-999999999.") - len("dynamodb.")  # 238


@pytest.mark.parametrize("spelling", ["DynamoDB.US-East-1.lab.test", "dynamodb.us-east-1.lab.test.",
                                      "DYNAMODB.US-EAST-1.LAB.TEST."])
def test_an_endpoint_is_read_in_its_canonical_spelling(spelling: str) -> None:
    assert normalize_endpoint(spelling, zone=ZONE) == EP
    plan = Plan.from_json(plan_json(endpoints=[spelling]), zone=ZONE)
    assert plan.endpoints == (EP,)  # so the staleness check and cleanup find the endpoint's records


def test_one_endpoint_in_two_spellings_is_refused_as_a_repeat() -> None:
    with pytest.raises(MalformedPlan, match="endpoints repeat a name"):
        Plan.from_json(plan_json(endpoints=[EP, EP.upper()]), zone=ZONE)


def test_the_longest_endpoint_whose_plan_record_names_fit_is_accepted() -> None:
    endpoint = name_of_length(LONGEST_ENDPOINT)
    assert normalize_endpoint(endpoint, zone=ZONE) == endpoint
    assert len(plan_record_name(plan_id(GENERATION_MAX), endpoint)) == 253


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("dynamodb.us-east-1.example.com", "not inside the zone lab.test"),
        ("lab.test", "the zone apex"),
        ("ns.lab.test", "reserved"),
        ("dynamodb\n@ IN A 6.6.6.6.lab.test", "must be a-z, 0-9"),
        ("dynamo db.lab.test", "must be a-z, 0-9"),
        ("dynamodb..lab.test", "empty label"),
        ("dynam\u00f6db.lab.test", "only ASCII"),
        ("-dynamodb.lab.test", "not starting or ending with '-'"),
        ("a" * 64 + ".lab.test", "label longer than 63"),
        (name_of_length(254), "longer than 253"),
        (name_of_length(LONGEST_ENDPOINT + 1), "its record name 'plan-999999999."),
    ],
    ids=["outside-zone", "apex", "ns", "newline", "space", "empty-label", "non-ascii", "hyphen", "long-label",
         "long-name", "plan-record-too-long"],
)
def test_an_endpoint_dns_admin_would_refuse_makes_the_plan_malformed(endpoint: str, message: str) -> None:
    with pytest.raises(MalformedPlan, match=re.escape(message)):
        normalize_endpoint(endpoint, zone=ZONE)
    with pytest.raises(MalformedPlan, match=r"^plan-000145: endpoint .*" + re.escape(message)):
        Plan.from_json(plan_json(endpoints=[endpoint]), zone=ZONE)


def test_a_refused_endpoint_is_shown_escaped_and_bounded() -> None:
    with pytest.raises(MalformedPlan) as caught:
        Plan.from_json(plan_json(endpoints=["x\n" * 500 + ".lab.test"]), zone=ZONE)
    message = str(caught.value)
    assert message.isprintable() and len(message) < 400


# --- plans as JSON -----------------------------------------------------------------------------------


def test_a_plan_round_trips_through_dumps_and_loads() -> None:
    plan = Plan.from_json(plan_json(), zone=ZONE)
    assert plan == Plan(
        145, (EP,), (Target("backend-1", "10.0.0.1", 10), Target("backend-2", "10.0.0.2", 0)),
        1_700_000_000.5, "health changed",
    )
    assert plan.id == "plan-000145"
    assert Plan.loads(plan.dumps(), zone=ZONE) == plan
    assert Plan.loads(plan.dumps().encode(), zone=ZONE) == plan
    assert json.loads(plan.dumps()) == plan_json()


def test_from_json_fills_the_optional_id_and_reason_and_makes_created_at_a_float() -> None:
    obj = plan_json(created_at=1_700_000_000)
    del obj["id"], obj["reason"]
    plan = Plan.from_json(obj, zone=ZONE)
    assert (plan.id, plan.reason, plan.created_at) == ("plan-000145", "tick", 1_700_000_000.0)
    assert type(plan.created_at) is float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "plan is not JSON"),
        (b"\xff\xfe{}", "plan is not JSON"),
        ("[]", "plan must be a JSON object"),
        ("null", "plan must be a JSON object"),
    ],
)
def test_loads_refuses_text_that_is_not_a_plan_object(text: str | bytes, message: str) -> None:
    with pytest.raises(MalformedPlan, match=message):
        Plan.loads(text, zone=ZONE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"generation": "145"}, "plan.generation must be an integer"),
        ({"generation": True}, "plan.generation must be an integer"),
        ({"generation": 145.0}, "plan.generation must be an integer"),
        ({"generation": 0, "id": "plan-000000"}, "generation 0 is outside"),
        ({"id": "plan-000144"}, "plan.id 'plan-000144' does not match generation 145"),
        ({"endpoints": []}, "plan-000145: endpoints must be a list of 1..10 names"),
        ({"endpoints": EP}, "plan-000145: endpoints must be a list of 1..10 names"),
        ({"endpoints": [EP, ""]}, "plan-000145: endpoints must be a list of 1..10 names"),
        ({"endpoints": [7]}, "plan-000145: endpoints must be a list of 1..10 names"),
        ({"targets": []}, "plan-000145: targets must be a list of 1..100 targets"),
        ({"targets": {"a": 1}}, "plan-000145: targets must be a list"),
        ({"targets": [target(f"10.0.{i // 250}.{i % 250 + 1}") for i in range(TARGETS_MAX + 1)]},
         "targets must be a list of 1..100"),
        ({"targets": ["10.0.0.1"]}, r"plan-000145: targets\[0\] must be an object"),
        ({"targets": [target("10.0.0.1", backend="")]}, r"targets\[0\].backend must be a name"),
        ({"targets": [target("10.0.0.1"), target("10.0.0.300")]}, r"targets\[1\].address '10.0.0.300' is not"),
        ({"targets": [target("::1")]}, r"targets\[0\].address '::1' is not an IPv4 address"),
        ({"targets": [{"backend": "b", "weight": 1}]}, r"targets\[0\].address None is not"),
        ({"targets": [target("10.0.0.1", weight=256)]}, r"targets\[0\].weight must be an integer 0..255"),
        ({"targets": [target("10.0.0.1", weight=-1)]}, r"targets\[0\].weight must be an integer"),
        ({"targets": [target("10.0.0.1", weight=True)]}, r"targets\[0\].weight must be an integer"),
        ({"created_at": 0}, "plan-000145: created_at must be a positive number"),
        ({"created_at": -5.0}, "created_at must be a positive number"),
        ({"created_at": True}, "created_at must be a positive number"),
        ({"created_at": "1700000000"}, "created_at must be a positive number"),
        ({"reason": 3}, "plan-000145: reason must be a string"),
        ({"reason": "tick\nforged line"}, "plan-000145: reason must be a string of at most 64 printable"),
        ({"reason": "x" * 65}, "plan-000145: reason must be a string of at most 64"),
        ({"targets": [target("10.0.0.1", backend="b\n+ 1.0s enactor-b CRASHED")]}, r"targets\[0\].backend must be a name"),
        ({"endpoints": [EP] * 11}, "plan-000145: endpoints must be a list of 1..10 names"),
    ],
)
def test_from_json_names_the_field_that_is_wrong(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(MalformedPlan, match=message):
        Plan.from_json(plan_json(**overrides), zone=ZONE)


def test_every_target_of_a_valid_plan_can_be_written_as_the_plans_record_set() -> None:
    plan = Plan.from_json(plan_json(), zone=ZONE)
    record_set = RecordSet.a(plan_record_name(plan.id, EP), 1, (ARecord(t.address, t.weight) for t in plan.targets))
    assert [r.address for r in record_set.records] == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.parametrize(
    "targets",
    [
        [target("10.0.0.1", backend="backend-1"), target("10.0.0.1", backend="backend-2")],
        [target("0.0.0.0")],
        [target("224.0.0.1")],
        [target("255.255.255.255")],
    ],
    ids=["duplicate-address", "unspecified", "multicast", "broadcast"],
)
def test_from_json_refuses_targets_that_cannot_become_a_record_set(targets: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedPlan):
        Plan.from_json(plan_json(targets=targets), zone=ZONE)


def test_a_record_name_gives_back_its_plan_and_a_name_that_is_no_plans_says_so() -> None:
    from dnsrace.plans import plan_id_in_record_name, plan_of_record_name
    name = plan_record_name("plan-000145", "dynamodb.us-east-1.lab.test")
    assert plan_of_record_name(name) == plan_id_in_record_name(name) == "plan-000145"
    assert plan_of_record_name("operator.dynamodb.us-east-1.lab.test") == "operator"
    assert plan_id_in_record_name("operator.dynamodb.us-east-1.lab.test") is None
    assert plan_id_in_record_name("plan-12.dynamodb.us-east-1.lab.test") is None
