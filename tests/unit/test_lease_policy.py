"""The lease manager's two designs (dnsrace_ec2.lease_policy) and its books (lease_book), pure."""

from __future__ import annotations

import pytest

from dnsrace_ec2.lease_book import LeaseBook, LeaseParams, Outcome
from dnsrace_ec2.lease_policy import (LEGACY, SAFE, TokenBucket, admission_limit, admits, may_enqueue,
                                      retries_on_timeout, works_at_dequeue)
from dnsrace_ec2.simulate import Fault, recovery_s, simulate

PARAMS = LeaseParams(droplets=10, workers=2, renew_s=10.0, ttl_s=15.0, timeout_s=1.0, expected_op_s=0.1)


# --- the policy, one decision at a time ------------------------------------------------------------------

def test_admission_refuses_only_in_safe_and_only_when_the_queue_is_full() -> None:
    assert admits(LEGACY, 10_000, 10)
    assert admits(SAFE, 9, 10)
    assert not admits(SAFE, 10, 10)


def test_admission_limit_is_what_finishes_within_the_timeout() -> None:
    assert admission_limit(workers=8, mean_op_s=0.08, timeout_s=2.0) == 100   # half of 100/s for 2 s
    assert admission_limit(workers=8, mean_op_s=100.0, timeout_s=2.0) == 8    # never below one per worker


def test_safe_allows_one_outstanding_attempt_per_droplet() -> None:
    assert may_enqueue(SAFE, 0) and not may_enqueue(SAFE, 1)
    assert may_enqueue(LEGACY, 5)


def test_safe_drops_expired_work_at_dequeue_and_legacy_works_it() -> None:
    assert works_at_dequeue(SAFE, deadline=10.0, now=10.0)
    assert not works_at_dequeue(SAFE, deadline=10.0, now=10.1)
    assert works_at_dequeue(LEGACY, deadline=10.0, now=99.0)


def test_only_legacy_retries_on_timeout() -> None:
    assert retries_on_timeout(LEGACY) and not retries_on_timeout(SAFE)


def test_token_bucket_spends_refunds_and_refills() -> None:
    bucket = TokenBucket(capacity=2, refill_per_s=1.0, tokens=2, updated=0.0)
    assert bucket.take(0.0) and bucket.take(0.0)
    assert not bucket.take(0.5)              # half a token so far
    assert bucket.take(1.0)                  # a whole one after a second
    bucket.refund(1.0)
    assert bucket.take(1.0)
    bucket.refund(5.0)
    assert bucket.tokens == 2                # capped


# --- the books ------------------------------------------------------------------------------------------

def test_new_droplets_are_brought_in_over_one_renewal_period() -> None:
    book = LeaseBook(PARAMS, SAFE, now=0.0)
    book.tick(0.0)
    assert len(book.queue) == 1              # droplet 0 only: droplet i is due at i * R / N
    book.tick(9.99)
    assert len(book.queue) == 10


def test_a_restart_re_establishes_lapsed_leases_at_once_and_renews_live_ones_when_due() -> None:
    book = LeaseBook(PARAMS, LEGACY, now=100.0, leases={0: 90.0, 1: 110.0})
    book.tick(100.0)
    due = {a.droplet for a in book.queue}
    assert 0 in due and 1 not in due         # 1 expires at 110: renewed at 110 - (15 - 10) = 105
    book.tick(105.0)
    assert 1 in {a.droplet for a in book.queue}


def test_success_in_time_establishes_the_lease_and_a_late_one_does_not() -> None:
    book = LeaseBook(PARAMS, LEGACY, now=0.0)
    book.tick(0.0)
    attempt = book.next_attempt(0.0)
    assert attempt is not None
    assert book.finished(attempt, 0.5, Outcome.OK, op_s=0.5, expiry=15.5)
    assert book.leased(1.0) == 1
    book.tick(1.0)
    late = book.next_attempt(1.0)
    assert late is not None and late.droplet == 1
    assert not book.finished(late, 3.0, Outcome.OK, op_s=2.0, expiry=18.0)   # deadline was 2.0
    assert book.leased(3.0) == 1 and book.window.late == 1


def test_legacy_enqueues_another_attempt_at_every_deadline_beside_the_old_one() -> None:
    book = LeaseBook(PARAMS, LEGACY, now=0.0)
    book.tick(0.0)
    book.tick(1.0)     # droplet 0's first deadline
    book.tick(2.0)     # and its second (droplets 1 and 2 fell due meanwhile)
    assert [a.number for a in book.queue if a.droplet == 0] == [1, 2, 3]


def test_safe_neither_duplicates_nor_works_expired_attempts() -> None:
    book = LeaseBook(PARAMS, SAFE, now=0.0)
    book.tick(0.0)
    book.tick(5.0)
    assert [a.droplet for a in book.queue].count(0) == 1
    assert book.next_attempt(5.0) is None or book.window.dropped >= 1   # droplet 0's attempt expired at 1.0
    assert book.window.dropped >= 1


def test_safe_admission_holds_due_work_back_while_the_queue_is_full() -> None:
    many = LeaseParams(droplets=1000, workers=1, renew_s=10.0, ttl_s=15.0, timeout_s=1.0, expected_op_s=0.1)
    book = LeaseBook(many, SAFE, now=100.0, leases={i: 50.0 for i in range(1000)})   # every lease lapsed
    book.tick(100.0)
    assert len(book.queue) == book.limit == 5
    assert book.throttling() and book.window.refused == 1
    assert not LeaseBook(many, LEGACY, now=100.0, leases={i: 50.0 for i in range(1000)}).throttling()


def test_safe_retries_are_paid_from_the_budget() -> None:
    params = LeaseParams(droplets=50, workers=2, renew_s=10.0, ttl_s=15.0, timeout_s=1.0, expected_op_s=0.01,
                         retry_refill_per_s=0.0)
    book = LeaseBook(params, SAFE, now=0.0, leases={i: -1.0 for i in range(50)})   # every lease lapsed

    def fail_everything(now: float) -> int:
        failed = 0
        while (attempt := book.next_attempt(now)) is not None:
            book.finished(attempt, now, Outcome.DNS, op_s=0.01, expiry=0.0)
            failed += 1
        return failed

    book.tick(0.0)
    assert fail_everything(0.0) == 50        # first attempts are free
    book.tick(0.1)
    assert fail_everything(0.1) == book.bucket.capacity == 10   # retries: as many as the budget holds
    book.tick(0.2)
    assert len(book.queue) == 0 and book.window.refused >= 1    # and no more until a success refills it


def test_figures_are_windowed_not_cumulative() -> None:
    book = LeaseBook(PARAMS, LEGACY, now=0.0)
    book.tick(0.0)
    attempt = book.next_attempt(0.0)
    assert attempt is not None
    book.finished(attempt, 0.1, Outcome.OK, op_s=0.1, expiry=15.1)
    first = book.take_window(1.0, 1.0)
    second = book.take_window(2.0, 1.0)
    assert first["goodput_per_s"] == 1.0 and second["goodput_per_s"] == 0.0
    assert first["leased"] == second["leased"] == 1


# --- the designs over a whole outage, in simulated time (the same books) --------------------------------

BIG = LeaseParams(droplets=1000, workers=8, renew_s=30.0, ttl_s=45.0, timeout_s=2.0, expected_op_s=0.075)
OUTAGE = Fault(outage_from=60.0, outage_to=120.0)


@pytest.mark.parametrize("policy, recovers", [(LEGACY, False), (SAFE, True)])
def test_after_dns_returns_legacy_collapses_and_safe_recovers(policy: object, recovers: bool) -> None:
    lines = simulate(BIG, policy, op_s=0.075, fault=OUTAGE, until=300.0)   # type: ignore[arg-type]
    assert lines[55]["leased_fraction"] == 1.0            # healthy before the outage
    took = recovery_s(lines, OUTAGE.outage_to)
    assert (took is not None and took <= 60) is recovers
    if not recovers:
        assert lines[-1]["queue"] > lines[125]["queue"] > 0   # and its queue keeps growing


def test_legacy_recovers_below_its_threshold() -> None:
    small = LeaseParams(droplets=100, workers=8, renew_s=30.0, ttl_s=45.0, timeout_s=2.0, expected_op_s=0.075)
    lines = simulate(small, LEGACY, op_s=0.075, fault=OUTAGE, until=300.0)
    assert recovery_s(lines, OUTAGE.outage_to) is not None   # N/(μτ) ≈ 0.47: the backlog drains


def test_a_name_that_does_not_resolve_is_told_apart_from_a_refused_connection() -> None:
    from botocore.exceptions import EndpointConnectionError

    from dnsrace_ec2.lease_store import name_failed
    nxdomain = "Failed to establish a new connection: [Errno -2] Name or service not known"
    nodata = "Failed to establish a new connection: [Errno -5] No address associated with hostname"
    refused = "Failed to establish a new connection: [Errno 111] Connection refused"
    url = "http://dynamodb.us-east-1.lab.test:8080/"
    assert name_failed(EndpointConnectionError(endpoint_url=url, error=nxdomain)) is Outcome.DNS
    assert name_failed(EndpointConnectionError(endpoint_url=url, error=nodata)) is Outcome.DNS
    assert name_failed(EndpointConnectionError(endpoint_url=url, error=refused)) is Outcome.UNREACHABLE


def test_the_operators_throttle_is_admission_and_nothing_else() -> None:
    from dataclasses import replace

    from dnsrace_ec2.lease_policy import throttled
    assert throttled(LEGACY) == replace(LEGACY, name="legacy+throttle", admission=True)
    assert throttled(SAFE) is SAFE


def test_a_restart_alone_collapses_again_and_throttle_plus_restart_recovers() -> None:
    from dnsrace_ec2.lease_policy import throttled
    lapsed = {i: -1.0 for i in range(1000)}           # a restart after DNS came back: every lease lapsed
    for policy, recovers in ((LEGACY, False), (throttled(LEGACY), True)):
        lines = simulate(BIG, policy, op_s=0.075, fault=Fault(1e9, 1e9), until=120.0, leases=lapsed)
        assert (lines[-1]["leased_fraction"] >= 0.95) is recovers, (policy.name, lines[-1])


def test_a_lease_written_after_its_deadline_is_read_back_as_lapsed() -> None:
    from typing import Any

    from dnsrace_ec2.lease_store import LAPSED_AT, LeaseStore

    class Pages:
        def paginate(self, **_: Any) -> list[dict[str, Any]]:
            return [{"Items": [
                {"droplet": {"S": "droplet-00001"}, "expiry": {"N": "500.0"}, "version": {"N": "3"},
                 "established": {"BOOL": True}},
                {"droplet": {"S": "droplet-00002"}, "expiry": {"N": "500.0"}, "version": {"N": "7"},
                 "established": {"BOOL": False}}]}]

    class Client:
        def create_table(self, **_: Any) -> None:
            return None

        def get_paginator(self, _name: str) -> Pages:
            return Pages()

    store = LeaseStore.__new__(LeaseStore)
    store.client = Client()
    assert store.leases() == {1: (500.0, 3), 2: (LAPSED_AT, 7)}
