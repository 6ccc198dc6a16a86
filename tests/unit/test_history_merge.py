"""harness.history.merge_events: the stream's events plus the container logs' copies it lacks, each once."""

from __future__ import annotations

from dnsrace_lab.harness.history import merge_events


def event(kind: str, t: float, seq: int | None, **detail: object) -> dict[str, object]:
    return {"seq": seq, "t": t, "service": "dns-admin", "kind": kind, "plan": "plan-000016", "token": None,
            "detail": dict(detail)}


def test_a_logged_event_the_stream_lacks_is_added_and_marked() -> None:
    stream = [event("zone_rendered", 1.0, 1)]
    merged = merge_events(stream, [event("zone_rendered", 1.0, None), event("zone_rendered", 2.0, None)])
    assert [(row["t"], row.get("from_log")) for row in merged] == [(1.0, None), (2.0, True)]


def test_a_batch_reported_again_at_start_and_printed_before_the_crash_is_one_batch() -> None:
    recovered = event("batch_accepted", 10.000, 7, change_id="change-000017", recovered=True)
    printed = event("batch_accepted", 10.004, None, change_id="change-000017")  # emitted after the commit
    merged = merge_events([recovered], [printed])
    assert merged == [recovered]


def test_two_batches_at_the_same_moment_stay_two() -> None:
    merged = merge_events([event("batch_accepted", 10.0, 7, change_id="change-000017")],
                          [event("batch_accepted", 10.0, None, change_id="change-000018")])
    assert [row["detail"] for row in merged] == [{"change_id": "change-000017"}, {"change_id": "change-000018"}]
