"""The protocol's rules, as pure functions: no I/O, no clock, no randomness of their own.

The enactor's apply loop (services/enactor) is the one parent that calls these; the unit tests call
them directly. Where legacy and safe mode differ, the difference lives in the enactor's variant
modules, which choose among these rules — never inside them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

__all__ = ["is_newer", "plans_older_than_window", "backoff_ms", "targets_differ"]


def is_newer(candidate_generation: int, live_generation: int | None) -> bool:
    """Is the candidate plan newer than the one the endpoint points at? No live plan: yes."""
    return live_generation is None or candidate_generation > live_generation


def plans_older_than_window(generations: Iterable[int], applied_generation: int, keep_generations: int) -> list[int]:
    """The plans cleanup deletes: those more than `keep_generations` older than the one just applied.

    This trusts generation numbers alone, as the real cleanup did: it cannot know that the endpoint
    may, at this very moment, point at one of them.
    """
    if keep_generations < 0:
        raise ValueError("keep_generations must be >= 0")
    cutoff = applied_generation - keep_generations
    return sorted(g for g in set(generations) if g < cutoff)


def backoff_ms(attempt: int, *, base_ms: int, cap_ms: int, rng: random.Random) -> int:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    if attempt < 0 or base_ms <= 0 or cap_ms < base_ms:
        raise ValueError("need attempt >= 0 and 0 < base_ms <= cap_ms")
    ceiling = min(cap_ms, base_ms * (2 ** min(attempt, 30)))
    return rng.randint(0, ceiling)


def targets_differ(before: Iterable[tuple[str, str, int]], after: Iterable[tuple[str, str, int]]) -> bool:
    """Did the healthy set or any weight change? (Order does not matter.)"""
    return sorted(before) != sorted(after)
