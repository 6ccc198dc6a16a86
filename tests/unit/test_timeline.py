"""dnsrace.timeline: the history as sentences (sentence(), render())."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dnsrace import timeline
from dnsrace.events import Event
from dnsrace.timeline import render, sentence

EP = "dynamodb.us-east-1.lab.test"

# One complete event per kind, with every detail key its sentence reads, as the services emit them.
FULL: dict[str, tuple[str | None, int | None, dict[str, Any]]] = {
    "planner_started": (None, None, {"backends": ["backend-1", "backend-2"], "tick_ms": 2000, "endpoints": [EP]}),
    "planner_stopped": (None, None, {}),
    "apply_finished": ("plan-000145", None, {"cleaned": ["plan-000139"]}),
    "fault_started": (None, None, {"fault": "hold", "target": "enactor-a", "proxy": "enactor-a-dns-admin", "why": "w"}),
    "fault_stopped": (None, None, {"fault": "hold", "why": "w"}),
    "operator_deleted": ("plan-000014", None, {"why": "mistake"}),
    "operator_repair": ("plan-000042", None, {"why": "manual repair"}),
    "clients_recovered": ("plan-000042", None, {"broken_after_repair_s": 7.2, "authoritative_after_s": 0.2}),
    "backend_healthy": (None, None, {"backend": "backend-1", "address": "10.0.0.1", "capacity": 10, "why": "ok"}),
    "backend_unhealthy": (None, None, {"backend": "backend-2", "address": "10.0.0.2", "capacity": 0,
                                       "why": "HTTP 503"}),
    "plan_created": ("plan-000145", None, {"generation": 145, "reason": "tick",
                                           "targets": ["backend-1=10.0.0.1/w10", "backend-2=10.0.0.2/w5"]}),
    "plan_withheld": (None, None, {"why": "no healthy backend"}),
    "plan_not_published": (None, None, {"error": "TimeoutError: redis"}),
    "enactor_started": (None, None, {"mode": "legacy", "keep_generations": 5}),
    "enactor_stopped": (None, None, {}),
    "plan_rejected": (None, None, {"error": "plan is not JSON"}),
    "plan_skipped": ("plan-000110", None, {"endpoint": EP, "live": "plan-000145", "why": "not newer"}),
    "check_passed": ("plan-000146", None, {"endpoint": EP, "live": "plan-000145"}),
    "lock_acquired": ("plan-000146", 42, {"endpoint": EP, "attempt": 3}),
    "lock_refused": ("plan-000146", None, {"endpoint": EP, "held_by": "enactor-b:41", "attempt": 2,
                                           "retry_in_ms": 180}),
    "lock_gave_up": ("plan-000146", None, {"endpoint": EP, "attempts": 30}),
    "lock_released": ("plan-000146", 42, {"endpoint": EP}),
    "lock_expired_before_release": ("plan-000146", 42, {"endpoint": EP}),
    "record_set_written": ("plan-000146", 42, {"endpoint": EP, "name": f"plan-000146.{EP}", "change_id": "C000007",
                                               "addresses": ["10.0.0.1", "10.0.0.2"]}),
    "endpoint_pointed": ("plan-000146", 42, {"endpoint": EP, "rollback": "plan-000145", "change_id": "C000008"}),
    "cleanup_deleted": ("plan-000140", None, {"endpoint": EP, "after": "plan-000146", "keep_generations": 5,
                                              "change_id": "C000009"}),
    "cleanup_already_gone": ("plan-000140", None, {"endpoint": EP, "after": "plan-000146"}),
    "cleanup_spared": ("plan-000140", None, {"endpoint": EP, "after": "plan-000146",
                                            "why": "the endpoint points at it"}),
    "endpoint_unchanged": ("plan-000145", 7, {"endpoint": EP, "why": "already points at it"}),
    "rollback_emptied": ("plan-000146", 7, {"endpoint": EP, "previous": "plan-000110",
                                            "why": "plan-000110 no longer exists"}),
    "apply_failed": ("plan-000110", None, {"error": "RecordSetMismatch: change 0: ...", "failures": 1,
                                          "retry_in_ms": 180}),
    "apply_gave_up": ("plan-000110", None, {"failures": 10}),
    "write_refused": ("plan-000110", None, {"error": "RecordSetMismatch: change 0: ...", "failures": 1,
                                           "retry_in_ms": 180}),
    "enactor_frozen": ("plan-000145", None, {"why": "x aliases www.lab.test, which is not one of its plans",
                                            "alarm": True, "until": "restart"}),
    "enactor_unfrozen": ("plan-000146", None, {"was": "x aliases www.lab.test"}),
    "endpoint_empty_found": ("plan-000145", None, {"endpoint": EP, "rcode": "NOERROR", "newest": "plan-000146",
                                                  "why": f"plan-000145.{EP} does not exist"}),
    "self_check_answering": (None, None, {"endpoint": EP, "addresses": ["172.20.0.2"]}),
    "enactor_crashed": (None, None, {"exception": "AliasTargetMissing", "message": "change 1: alias target missing",
                                     "protocol_at": "services/enactor/dnsrace_enactor/legacy.py:43",
                                     "raised_at": "services/common/dnsrace/dns_admin_client.py:74"}),
    "batch_accepted": ("plan-000146", None, {"change_id": "C000008", "serial": 9, "client": "enactor-a",
                                             "comment": "",
                                             "changes": [{"action": "UPSERT", "record_set": {"name": "a", "type": "ALIAS",
                                                                                             "target": "b"}},
                                                         {"action": "UPSERT", "record_set": {"name": "c", "type": "ALIAS",
                                                                                             "target": "d"}}],
                                             "described": ["UPSERT ALIAS a -> b", "UPSERT ALIAS c -> d"]}),
    "batch_rejected": ("plan-000110", None, {"error": "AliasTargetMissing", "message": "change 1: gone",
                                             "change_index": 1, "client": "enactor-c",
                                             "change": {"action": "UPSERT", "record_set": {"name": "c", "type": "ALIAS",
                                                                                           "target": "d"}}}),
    "batch_outcome_unknown": ("plan-000110", None, {"change_id": "change-000012", "client": "enactor-a",
                                                    "why": "the store did not answer within 10 s"}),
    "zone_rendered": (None, None, {"serial": 9}),
}


def event(kind: str, plan: str | None = None, token: int | None = None, t: float = 100.0, seq: int | None = 1,
          service: str = "enactor-a", **detail: Any) -> Event:
    return Event(t=t, service=service, kind=kind, plan=plan, token=token, detail=detail, seq=seq)


def full(kind: str) -> Event:
    plan, token, detail = FULL[kind]
    return event(kind, plan, token, **detail)


def test_the_table_of_complete_events_covers_every_sentence() -> None:
    assert sorted(FULL) == sorted(timeline._SENTENCES)


@pytest.mark.parametrize("kind", sorted(timeline._SENTENCES))
def test_every_kind_renders_its_own_sentence_without_falling_back(kind: str) -> None:
    text = sentence(full(kind))
    # The fallbacks both start with the kind's own name; a real sentence never does, and a complete
    # event leaves no "?" placeholder behind.
    assert not text.startswith(kind)
    assert "?" not in text
    assert "None" not in text


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("check_passed", "checked plan-000146 is newer than live plan-000145"),
        ("lock_refused", "lock busy for plan-000146 (held by enactor-b:41); retry 2 in 180 ms"),
        ("endpoint_pointed", f"pointed {EP} at plan-000146 (rollback -> plan-000145), C000008"),
        ("cleanup_deleted", "cleanup deleted plan-000140 (more than 5 older than plan-000146)"),
        ("enactor_crashed", "CRASHED: AliasTargetMissing: change 1: alias target missing at "
                            "services/enactor/dnsrace_enactor/legacy.py:43 "
                            "(raised at services/common/dnsrace/dns_admin_client.py:74)"),
        ("record_set_written", f"wrote record set plan-000146.{EP} (10.0.0.1, 10.0.0.2)"),
    ],
)
def test_the_sentences_a_responder_reads_during_the_incident(kind: str, expected: str) -> None:
    assert sentence(full(kind)) == expected


def test_a_first_plan_reads_as_having_no_live_plan_and_no_rollback() -> None:
    assert sentence(event("check_passed", "plan-000001", live=None)) == "checked plan-000001 is newer than live (none)"
    assert sentence(event("endpoint_pointed", "plan-000001", 1, endpoint=EP, rollback=None, change_id="C000002")) == (
        f"pointed {EP} at plan-000001 (rollback -> none), C000002"
    )


@pytest.mark.parametrize("kind", sorted(timeline._SENTENCES))
def test_an_event_missing_its_detail_still_renders_a_line(kind: str) -> None:
    text = sentence(event(kind))
    assert isinstance(text, str) and text


def test_a_missing_detail_key_shows_a_question_mark_rather_than_raising() -> None:
    assert sentence(event("lock_gave_up", "plan-000146")) == "gave up on plan-000146: lock busy ? times"


def test_a_detail_of_the_wrong_type_falls_back_to_the_kind_and_its_json() -> None:
    broken = event("record_set_written", "plan-000146", addresses=None, name="x")
    assert sentence(broken) == 'record_set_written {"addresses": null, "name": "x"}'


def test_an_unknown_kind_falls_back_to_kind_plan_and_sorted_details() -> None:
    assert sentence(event("fencing_refused", "plan-000110", token=7, seen=9, endpoint=EP)) == (
        f"fencing_refused plan-000110 endpoint={EP} seen=9"
    )
    assert sentence(event("mystery", b=2, a=1)).split() == ["mystery", "a=1", "b=2"]
    assert sentence(event("mystery")) == "mystery"


def test_every_kind_the_planner_emits_has_a_sentence() -> None:
    assert "planner_stopped" in timeline._SENTENCES


def test_render_of_nothing_says_so() -> None:
    assert render([]) == ["(no events yet)"]


def test_render_gives_time_since_the_first_event_service_sentence_and_seq() -> None:
    lines = render([
        event("check_passed", "plan-000002", t=1000.0, seq=3, live="plan-000001"),
        event("lock_acquired", "plan-000002", 42, t=1001.25, seq=9, service="enactor-b", attempt=4),
        event("planner_stopped", t=1062.5, seq=10, service="planner"),
    ])
    assert lines == [
        "+    0.000s  enactor-a  checked plan-000002 is newer than live plan-000001  #3",
        "+    1.250s  enactor-b  took the lock for plan-000002 (token 42, attempt 4)  #9",
        "+   62.500s  planner    stopped  #10",
    ]


def test_the_fallback_json_is_valid_json_of_the_detail() -> None:
    text = sentence(event("planner_started", backends=None, tick_ms=5))
    kind, _, rest = text.partition(" ")
    assert kind == "planner_started"
    assert json.loads(rest) == {"backends": None, "tick_ms": 5}


# --- nothing an event carries can forge a line -------------------------------------------------------

FORGED = "x\n+    0.001s  enactor-b  CRASHED: forged  #2"


@pytest.mark.parametrize("forged", [
    event("batch_rejected", client=FORGED, error="InvalidInput", message="m"),
    event("apply_failed", "plan-000001", error=FORGED, failures=1, retry_in_ms=1),
    event("plan_rejected", error=FORGED),
    event("mystery", note=FORGED),
    event("record_set_written", "plan-000146", addresses=None, name=FORGED),  # the JSON fallback
    event("lock_acquired", FORGED, 1, attempt=1),
    event("check_passed", "plan-000001", service=FORGED, live=None),
], ids=["client", "error", "plan-error", "unknown-kind", "fallback", "plan-field", "service"])
def test_a_newline_in_anything_an_event_carries_is_shown_escaped_on_the_same_line(forged: Event) -> None:
    lines = render([event("check_passed", "plan-000001", seq=1, live=None), forged])
    assert len(lines) == 2 and "\n" not in "".join(lines)
    assert all(line.startswith("+") for line in lines)
    assert all(line.isprintable() for line in lines)
    assert "x\\n+    0.001s" in lines[1]  # still readable, as Python would write it


@pytest.mark.parametrize("character", ["\r", "\x1b", "\u2028", "\u0085", "\x00", "\ud800"])
def test_control_and_separator_characters_are_escaped(character: str) -> None:
    text = sentence(event("plan_rejected", error=f"a{character}b"))
    assert text.isprintable() and character not in text
    assert text == f"refused a malformed plan: a{repr(character)[1:-1]}b"


def test_a_sentence_is_cut_at_its_bound() -> None:
    text = sentence(event("plan_rejected", error="y" * 100_000))
    assert len(text) == timeline.SENTENCE_LENGTH_MAX and text.endswith("...")
