"""The lab's checker, on hand-written histories: empty windows from probes, endpoint moves from an audit."""

from __future__ import annotations

from typing import Any

import pytest

from dnsrace_lab.harness.checker import backward_moves, count_rate, empty_windows, endpoint_moves

EP = "dynamodb.us-east-1.lab.test"


def probe(t: float, kind: str, process: str = "resolver") -> list[dict[str, Any]]:
    done: dict[str, Any] = {"process": process, "type": kind, "f": "resolve", "t": t + 0.01}
    if kind == "ok":
        done["value"] = ["10.0.0.1"]
    return [{"process": process, "type": "invoke", "f": "resolve", "t": t}, done]


def history(*kinds: str, process: str = "resolver") -> list[dict[str, Any]]:
    return [op for n, kind in enumerate(kinds) for op in probe(n * 0.1, kind, process)]


def test_no_empty_answer_no_window() -> None:
    assert empty_windows(history("ok", "ok", "info", "ok"), "resolver") == []


def test_a_run_of_empty_answers_is_one_window_closed_by_the_next_answer() -> None:
    [window] = empty_windows(history("ok", "fail", "fail", "ok"), "resolver")
    assert (window.probes, window.closed) == (2, True)
    assert window.start == pytest.approx(0.11) and window.end == pytest.approx(0.31)


def test_a_timeout_neither_opens_nor_closes_a_window_and_an_open_one_is_reported_open() -> None:
    windows = empty_windows(history("fail", "info", "fail", "ok", "info", "fail"), "resolver")
    assert [(w.probes, w.closed) for w in windows] == [(2, True), (1, False)]


def test_other_processes_do_not_count() -> None:
    assert empty_windows(history("fail", "fail", process="authoritative"), "resolver") == []


def test_the_rate_is_probes_per_second() -> None:
    assert count_rate(history(*["ok"] * 11), "resolver") == pytest.approx(10.0)
    assert count_rate(history("ok"), "resolver") == 0.0


def alias(action: str, target: str, name: str = EP) -> dict[str, Any]:
    return {"action": action, "record_set": {"name": name, "type": "ALIAS", "target": f"{target}.{EP}"}}


def row(seq: int, client: str, *changes: dict[str, Any], outcome: str = "accepted") -> dict[str, Any]:
    return {"seq": seq, "t": float(seq), "change_id": f"change-{seq:06d}", "client": client, "outcome": outcome,
            "batch": {"changes": list(changes)}}


def test_moves_are_replayed_from_accepted_batches_and_a_step_back_is_found() -> None:
    audit = [
        row(1, "enactor-b", alias("UPSERT", "plan-000010")),
        row(2, "enactor-b", alias("DELETE", "plan-000010"), alias("CREATE", "plan-000011")),
        row(3, "enactor-c", alias("DELETE", "plan-000009"), alias("CREATE", "plan-000012"), outcome="RecordSetMismatch"),
        row(4, "enactor-c", alias("DELETE", "plan-000011"), alias("CREATE", "plan-000011"),
            alias("CREATE", "plan-000010", name=f"rollback.{EP}")),   # a re-assertion: no move
        row(5, "enactor-a", alias("UPSERT", "plan-000002")),
        row(6, "enactor-b", alias("UPSERT", "plan-000013")),
    ]
    moves = endpoint_moves(audit, EP)
    assert [(m.before, m.after, m.client) for m in moves] == [
        (None, 10, "enactor-b"), (10, 11, "enactor-b"), (11, 2, "enactor-a"), (2, 13, "enactor-b")]
    assert [(m.change_id, m.before, m.after) for m in backward_moves(moves)] == [("change-000005", 11, 2)]


def test_an_endpoint_aliasing_a_non_plan_is_no_generation_and_never_counts_as_backwards() -> None:
    audit = [row(1, "operator", {"action": "UPSERT", "record_set": {"name": EP, "type": "ALIAS",
                                                                    "target": "www.lab.test"}}),
             row(2, "enactor-a", alias("UPSERT", "plan-000001"))]
    assert [(m.before, m.after) for m in endpoint_moves(audit, EP)] == [(None, None), (None, 1)]
    assert backward_moves(endpoint_moves(audit, EP)) == []
