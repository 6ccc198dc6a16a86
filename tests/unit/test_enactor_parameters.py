"""The lab learns the enactors' settings from their enactor_started events, and refuses to guess."""

from __future__ import annotations

import pytest

from dnsrace.events import Event
from dnsrace_lab.stack.enactor_parameters import EnactorParameters, ParametersUnknown

SAID = {"mode": "safe", "keep_generations": 5, "lock_ttl_ms": 5_000, "self_check_timeout_ms": 2_000,
        "poll_interval_ms": 500}


def started(service: str, seq: int, **detail: object) -> Event:
    return Event(1_700_000_000.0 + seq, service, "enactor_started", detail={**SAID, **detail}, seq=seq)


def test_the_newest_start_of_each_enactor_is_what_they_run_with() -> None:
    events = [started("enactor-a", 1, lock_ttl_ms=9_000), started("enactor-b", 2), started("enactor-c", 3),
              started("enactor-a", 4)]   # enactor-a restarted since, with the stack's settings
    said = EnactorParameters.from_events(events)
    assert said == EnactorParameters("safe", 5, 5_000, 2_000) and said.lock_ttl_s == 5.0


def test_an_enactor_that_has_not_said_is_unknown_not_a_default() -> None:
    with pytest.raises(ParametersUnknown, match="no enactor_started event from enactor-c"):
        EnactorParameters.from_events([started("enactor-a", 1), started("enactor-b", 2)])


def test_an_older_image_that_does_not_report_them_is_named() -> None:
    old = Event(1.0, "enactor-c", "enactor_started", detail={"mode": "safe", "keep_generations": 5}, seq=9)
    with pytest.raises(ParametersUnknown, match="enactor-c's enactor_started \\(event #9\\) does not say lock_ttl_ms"):
        EnactorParameters.from_events([started("enactor-a", 1), started("enactor-b", 2), old])


def test_enactors_that_disagree_are_refused() -> None:
    with pytest.raises(ParametersUnknown, match="the enactors disagree"):
        EnactorParameters.from_events([started("enactor-a", 1), started("enactor-b", 2, keep_generations=3),
                                       started("enactor-c", 3)])
