"""dnsrace.rules: the protocol's pure rules (staleness, cleanup window, backoff, target changes)."""

from __future__ import annotations

import random

import pytest

from dnsrace.rules import backoff_ms, is_newer, plans_older_than_window, targets_differ


class RecordingRandom(random.Random):
    """A real Random that also records the bounds backoff_ms asks it for."""

    def __init__(self) -> None:
        super().__init__(0)
        self.bounds: list[tuple[int, int]] = []

    def randint(self, a: int, b: int) -> int:
        self.bounds.append((a, b))
        return super().randint(a, b)


# --- is_newer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "live", "expected"),
    [(1, None, True), (146, 145, True), (145, 145, False), (110, 145, False)],
)
def test_is_newer_only_for_a_strictly_higher_generation_or_no_live_plan(
    candidate: int, live: int | None, expected: bool
) -> None:
    assert is_newer(candidate, live) is expected


# --- plans_older_than_window -------------------------------------------------------------------------


def test_window_deletes_generations_more_than_k_older_and_keeps_the_boundary() -> None:
    assert plans_older_than_window([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 10, 3) == [1, 2, 3, 4, 5, 6]
    assert plans_older_than_window([7, 8, 9, 10], 10, 3) == []


def test_window_is_sorted_deduplicated_and_keeps_plans_newer_than_the_applied_one() -> None:
    assert plans_older_than_window([9, 1, 12, 4, 1, 20], 10, 5) == [1, 4]


def test_window_with_k_zero_deletes_every_older_plan_but_not_the_applied_one() -> None:
    assert plans_older_than_window([3, 4, 5], 5, 0) == [3, 4]


def test_window_of_nothing_is_nothing() -> None:
    assert plans_older_than_window([], 10, 3) == []


def test_window_trusts_generation_numbers_alone_so_it_selects_an_old_live_plan() -> None:
    # The incident's cleanup: plan 2 is live (a slow enactor just pointed the endpoint at it), yet
    # the rule cannot know that and selects it. The fix belongs to the caller, not to this rule.
    assert plans_older_than_window([2, 8, 9, 10, 11], 11, 3) == [2]


def test_window_refuses_a_negative_keep() -> None:
    with pytest.raises(ValueError, match="keep_generations must be >= 0"):
        plans_older_than_window([1, 2], 2, -1)


# --- backoff_ms --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "ceiling"),
    [(0, 100), (1, 200), (2, 400), (4, 1600), (5, 3000), (30, 3000), (10_000, 3000)],
)
def test_backoff_draws_full_jitter_up_to_the_capped_exponential(attempt: int, ceiling: int) -> None:
    rng = RecordingRandom()
    delay = backoff_ms(attempt, base_ms=100, cap_ms=3000, rng=rng)
    assert rng.bounds == [(0, ceiling)]
    assert 0 <= delay <= ceiling


def test_backoff_is_reproducible_from_the_seed() -> None:
    def delays(seed: int) -> list[int]:
        rng = random.Random(seed)
        return [backoff_ms(attempt, base_ms=100, cap_ms=3000, rng=rng) for attempt in range(8)]

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)


def test_backoff_stays_within_bounds_over_many_draws() -> None:
    rng = random.Random(1)
    delays = [backoff_ms(3, base_ms=10, cap_ms=50, rng=rng) for _ in range(2000)]
    assert min(delays) == 0
    assert max(delays) == 50


@pytest.mark.parametrize(
    ("attempt", "base_ms", "cap_ms"),
    [(-1, 100, 3000), (0, 0, 3000), (0, -5, 3000), (0, 100, 99)],
)
def test_backoff_refuses_nonsense_arguments(attempt: int, base_ms: int, cap_ms: int) -> None:
    with pytest.raises(ValueError, match="need attempt >= 0"):
        backoff_ms(attempt, base_ms=base_ms, cap_ms=cap_ms, rng=random.Random(0))


# --- targets_differ ----------------------------------------------------------------------------------

A = ("backend-1", "10.0.0.1", 10)
B = ("backend-2", "10.0.0.2", 10)


def test_targets_in_another_order_do_not_differ() -> None:
    assert targets_differ([A, B], [B, A]) is False


@pytest.mark.parametrize(
    "after",
    [[A], [A, B, ("backend-3", "10.0.0.3", 10)], [A, ("backend-2", "10.0.0.2", 0)],
     [A, ("backend-2", "10.0.0.9", 10)], [A, B, B], []],
    ids=["removed", "added", "weight", "address", "duplicated", "emptied"],
)
def test_any_change_of_the_healthy_set_or_a_weight_differs(after: list[tuple[str, str, int]]) -> None:
    assert targets_differ([A, B], after) is True
