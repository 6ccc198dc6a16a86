"""The lease manager's I/O edge: one lease operation, made with boto3 against the lab's DynamoDB.

One operation = the droplet's state check (HTTP to the droplets service) + one conditional UpdateItem
on the droplet's lease item {droplet, holder, version, expiry}, accepted only if the version is the one
this manager last saw (or the item does not exist yet). A refusal (ConditionalCheckFailed) reads the
item back, so the next attempt carries the version DynamoDB holds.

DynamoDB is reached by its name, `dynamodb.us-east-1.lab.test`, which the container resolves through the
lab's own CoreDNS (compose gives dwfm the lab's cached listener as its resolver): when the endpoint answers
empty, boto3 fails the way AWS's services did, with EndpointConnectionError, and the resolver's negative
cache delays the recovery here too. Every request asks for `Connection: close`, so each one opens a new
connection and resolves the name again: reused connections would hide the outage, and new connections
are what failed.

Blocking (boto3 is synchronous): dwfm.py runs it in a thread pool of one thread per worker. Each call is
bounded by botocore's connect and read timeouts (the attempt's timeout) and the retry mode of the design:
legacy keeps botocore's legacy mode (5 attempts with exponential backoff: the SDK's default), safe
uses botocore's standard mode (its retry quota).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError, ConnectTimeoutError, EndpointConnectionError,
                                 ReadTimeoutError)

from dnsrace_ec2.lease_book import Outcome

__all__ = ["LeaseResult", "LeaseStore", "TABLE", "droplet_key", "name_failed"]

TABLE = "droplet-leases"
LAPSED_AT = 1.0   # an expiry long past: what a lease that was never established counts as
# glibc's getaddrinfo errors for a name that does not resolve: NXDOMAIN (-2), no address (-5), failure (-3).
_NAME_ERRORS = ("Errno -2]", "Errno -3]", "Errno -5]", "Name or service not known", "No address associated")


def name_failed(error: EndpointConnectionError) -> Outcome:
    """DNS when the name did not resolve (the cause botocore keeps: urllib3's NewConnectionError around
    glibc's getaddrinfo error), UNREACHABLE when it resolved and the connection failed."""
    cause = str(error.kwargs.get("error") or error.__context__ or "")
    return Outcome.DNS if any(marker in cause for marker in _NAME_ERRORS) else Outcome.UNREACHABLE


def droplet_key(droplet: int) -> str:
    return f"droplet-{droplet:05d}"


@dataclass(frozen=True)
class LeaseResult:
    outcome: Outcome
    op_s: float
    expiry: float = 0.0
    version: int | None = None
    error: str = ""


def _close_after_each(request: Any, **_: Any) -> None:
    request.headers["Connection"] = "close"


class LeaseStore:
    def __init__(self, *, endpoint_url: str, droplets_url: str, holder: str, timeout_s: float, ttl_s: float,
                 retry_mode: str, workers: int) -> None:
        config = Config(connect_timeout=timeout_s, read_timeout=timeout_s, max_pool_connections=workers + 2,
                        retries={"mode": retry_mode})
        # Any credentials work: the lab's DynamoDB does not check signatures (boto3 signs anyway).
        self.client = boto3.session.Session().client(
            "dynamodb", endpoint_url=endpoint_url, region_name="us-east-1", aws_access_key_id="lab",
            aws_secret_access_key="lab", config=config)
        self.client.meta.events.register("before-send.dynamodb", _close_after_each)
        self.droplets_url, self.holder = droplets_url.rstrip("/"), holder
        self.timeout_s, self.ttl_s = timeout_s, ttl_s

    # --- the table -------------------------------------------------------------------------------
    def ensure_table(self) -> None:
        try:
            self.client.create_table(
                TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "droplet", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "droplet", "AttributeType": "S"}])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise

    def leases(self) -> dict[int, tuple[float, int]]:
        """Every lease item: droplet → (expiry, version). What a restarted manager starts from.

        A lease written after its attempt's deadline (legacy works such attempts: the write reaches
        DynamoDB, the droplet had given up) was never established: it counts as lapsed, whatever its
        expiry says."""
        self.ensure_table()
        found: dict[int, tuple[float, int]] = {}
        for page in self.client.get_paginator("scan").paginate(TableName=TABLE):
            for item in page.get("Items", []):
                droplet = int(item["droplet"]["S"].rsplit("-", 1)[1])
                established = item.get("established", {}).get("BOOL", True)
                expiry = float(item["expiry"]["N"]) if established else LAPSED_AT
                found[droplet] = (expiry, int(item["version"]["N"]))
        return found

    # --- one operation ---------------------------------------------------------------------------
    def renew(self, droplet: int, expected_version: int | None, deadline: float = float("inf")) -> LeaseResult:
        started = time.monotonic()

        def result(outcome: Outcome, **rest: Any) -> LeaseResult:
            return LeaseResult(outcome, time.monotonic() - started, **rest)

        try:
            with urllib.request.urlopen(f"{self.droplets_url}/droplets/{droplet}", timeout=self.timeout_s) as reply:
                reply.read()
        except (urllib.error.URLError, OSError) as error:
            return result(Outcome.ERROR, error=f"state check: {error}")
        expiry = time.time() + self.ttl_s
        version = (expected_version or 0) + 1
        try:
            self.client.update_item(
                TableName=TABLE, Key={"droplet": {"S": droplet_key(droplet)}},
                UpdateExpression="SET holder = :holder, version = :version, expiry = :expiry, established = :in_time",
                ConditionExpression="attribute_not_exists(droplet) OR version = :expected",
                ExpressionAttributeValues={":holder": {"S": self.holder}, ":version": {"N": str(version)},
                                           ":expiry": {"N": f"{expiry:.3f}"},
                                           ":expected": {"N": str(expected_version or 0)},
                                           ":in_time": {"BOOL": time.time() <= deadline}})
            return result(Outcome.OK, expiry=expiry, version=version)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                return result(Outcome.CONFLICT, version=self._version(droplet), error=code)
            if code == "ResourceNotFoundException":   # the storage node restarted empty
                self._quietly(self.ensure_table)
            return result(Outcome.ERROR, error=f"{code}: {error}")
        except EndpointConnectionError as error:
            return result(name_failed(error), error=f"{error}: {error.kwargs.get('error')}")
        except (ReadTimeoutError, ConnectTimeoutError) as error:
            return result(Outcome.TIMEOUT, error=str(error))
        except BotoCoreError as error:
            return result(Outcome.ERROR, error=f"{type(error).__name__}: {error}")

    def _version(self, droplet: int) -> int | None:
        """The version DynamoDB holds now (after a refusal), or None if it cannot be read."""
        try:
            item = self.client.get_item(TableName=TABLE, Key={"droplet": {"S": droplet_key(droplet)}},
                                        ConsistentRead=True).get("Item")
        except (BotoCoreError, ClientError):
            return None
        return int(item["version"]["N"]) if item else 0

    @staticmethod
    def _quietly(call: Any) -> None:
        try:
            call()
        except (BotoCoreError, ClientError):
            pass
