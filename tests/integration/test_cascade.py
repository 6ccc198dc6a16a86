"""The cascade, act 1 (issue 23), on the test stack: boto3 through the lab's DNS against the real
DynamoDB node, and `reproduce-outage SCENARIO=cascade` in both lease-manager designs, judged from the
recorded history by the checker's (7).

The test stack runs the lease manager with 200 droplets, renew every 20 s, TTL 30 s, timeout 1 s
(stack.py), past legacy's threshold all the same (N/(μτ) ≈ 1.9).
"""

from __future__ import annotations

import json

import pytest

from .stack import TOP, Stack
from .test_outage import lab, use_mode

pytestmark = pytest.mark.integration

BOTO3_THROUGH_LAB_DNS = r"""
import json, sys, boto3
from botocore.config import Config
from botocore.exceptions import ClientError
client = boto3.client("dynamodb", endpoint_url="http://dynamodb.us-east-1.lab.test:8080", region_name="us-east-1",
                      aws_access_key_id="lab", aws_secret_access_key="lab",
                      config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=3))
out = {}
try:
    client.create_table(TableName="probe", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
except ClientError as error:
    out["create"] = error.response["Error"]["Code"]
client.put_item(TableName="probe", Item={"k": {"S": "a"}, "version": {"N": "1"}})
try:
    client.update_item(TableName="probe", Key={"k": {"S": "a"}}, UpdateExpression="SET version = :new",
                       ConditionExpression="version = :expected",
                       ExpressionAttributeValues={":new": {"N": "3"}, ":expected": {"N": "2"}})
    out["stale"] = "accepted"
except ClientError as error:
    out["stale"] = error.response["Error"]["Code"]
reply = client.update_item(TableName="probe", Key={"k": {"S": "a"}}, UpdateExpression="SET version = :new",
                           ConditionExpression="version = :expected", ReturnValues="ALL_NEW",
                           ExpressionAttributeValues={":new": {"N": "2"}, ":expected": {"N": "1"}})
out["current"] = reply["Attributes"]["version"]["N"]
out["frontend"] = reply["ResponseMetadata"]["HTTPHeaders"].get("x-dnsrace-frontend")
print(json.dumps(out))
"""

def in_dwfm(stack: Stack, script: str) -> str:
    """Run `script` with python3 inside the dwfm container: its resolver is the lab's CoreDNS."""
    result = stack.compose("exec", "-T", "dwfm", "python3", "-c", script, check=False, timeout_s=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def test_boto3_reaches_dynamodb_by_its_name_through_the_lab_dns(stack: Stack) -> None:
    out = json.loads(in_dwfm(stack, BOTO3_THROUGH_LAB_DNS).splitlines()[-1])
    assert out["stale"] == "ConditionalCheckFailedException"    # a stale version is really refused
    assert out["current"] == "2"
    assert out["frontend"] in ("backend-1", "backend-2", "backend-3")


def dwfm_mode(stack: Stack, mode: str) -> None:
    if stack.dwfm_mode != mode:
        stack.dwfm_mode = mode
        stack.compose("up", "-d", "dwfm")


@pytest.mark.parametrize("mode", ["legacy", "safe"])
def test_cascade_legacy_stays_collapsed_after_dns_returns_and_safe_recovers(stack: Stack, mode: str) -> None:
    dwfm_mode(stack, mode)
    use_mode(stack, "legacy")   # the trigger: legacy enactors' race
    result = lab(stack, "dnsrace_lab.outage", "--scenario", "cascade", "--mode", "legacy", "--dwfm-mode", mode)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    latest = max((TOP / "store" / "reproduce-outage").glob("*-legacy-cascade"), key=lambda p: p.stat().st_mtime)
    results = json.loads((latest / "results.json").read_text())
    recover = results["invariants"]["leases-recover"]
    if mode == "legacy":
        assert "LEGACY DWFM: DNS came back and the leases stayed collapsed" in output
        assert recover["valid"] is False
        assert recover["measures"]["queue_last"] > recover["measures"]["queue_at_dns_back"]
        assert recover["measures"]["launches_after_dns_back"]["ok"] == 0
    else:
        assert "SAFE DWFM: the leases came back by themselves" in output
        assert recover["valid"] is True and recover["measures"]["recovery_s"] <= 60
    # The history holds the figures it was judged on.
    rows = [json.loads(line) for line in (latest / "history.jsonl").read_text().splitlines()]
    assert any(r.get("source") == "figures" and r.get("kind") == "lease_window" for r in rows)
    assert any(r.get("source") == "figures" and r.get("kind") == "launch_window" for r in rows)
    # While the endpoint answered empty, boto3's calls failed because the name did not resolve
    # (EndpointConnectionError on getaddrinfo), not for any other reason.
    assert any(r.get("kind") == "lease_window" and (r["detail"].get("failed") or {}).get("dns") for r in rows)
