"""The report: timeline.html is one self-contained page (no script, nothing fetched), with each fault's
window shaded and labelled, the violations marked, and every text escaped; the rows and the summary."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_chaos_checker import EP, outage_run

from dnsrace_lab.harness import report
from dnsrace_lab.harness.checker import check_history
from dnsrace_lab.harness.report import row, summary, render_timeline


def test_the_timeline_is_self_contained_and_shows_faults_and_violations() -> None:
    h = outage_run(25.0)
    h.event(10.0, "enactor-a", "enactor_crashed", exception="AliasTargetMissing", message="<script>alert(1)</script>")
    recorded = h.build()
    page = render_timeline(recorded, check_history(recorded, EP))
    assert page.startswith("<!doctype html>") and "<svg" in page
    for fetch in ("<script", "src=", "<link", "url(", "@import"):
        assert fetch not in page
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"]   # a namespace, not a fetch
    assert "#1 latency enactor-a-dns-admin" in page and "#2 partition enactor-a" in page
    assert "(3) enactor-c deleted live plan-000004" in page and "(4) not converged" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "INVALID" in page


def test_a_row_and_a_summary_per_campaign() -> None:
    results = [{"seed": 7, "mode": "safe", "faults": ["hold enactor-a->redis", "delete-live-plan dns-admin"],
                "valid": True, "run_s": 40.0, "folder": "store/chaos/x",
                "verdicts": dict.fromkeys(("no-empty-answer", "never-back", "no-referenced-delete", "converges",
                                           "no-lost-batch", "no-crash-loop"), True),
                "measures": {"no-empty-answer": {"longest_empty_s": 14.2}, "converges": {"converge_s": 1.5}}}]
    line = row(results[0])
    assert line.split()[:4] == ["7", "2:", "hold", "a>redis,"] and "14.2 s" in line and "1.5 s" in line
    broken = [{**results[0], "valid": False, "verdicts": {**results[0]["verdicts"], "never-back": False}}]
    text = "\n".join(summary(results + broken, 200.0))
    assert "2 run(s) in mode safe: 1 with a violation" in text and "(2) 1" in text and "36 runs per hour" in text


def test_a_recorded_run_is_judged_again_from_its_history_alone(tmp_path: Path) -> None:
    from dnsrace_lab.harness import history
    from dnsrace_lab.harness.report.cli import main
    h = outage_run(25.0)
    recorded = h.build()
    history.write(tmp_path / "history.jsonl", recorded)
    (tmp_path / "results.json").write_text(json.dumps({"seed": 9, "valid": True}))
    assert main([str(tmp_path)]) == 1
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["seed"] == 9 and results["valid"] is False
    assert results["invariants"]["no-referenced-delete"]["valid"] is False
    assert "<svg" in (tmp_path / "timeline.html").read_text()


def test_a_campaign_table_is_rebuilt_from_the_runs_results(tmp_path: Path) -> None:
    # `python3 -m dnsrace_lab.harness.report --table WALL_S <runs>`: the rows come from each run's results.json.
    folder = tmp_path / "20261130T021233Z-legacy-1003"
    folder.mkdir()
    invariants = {name: {"valid": True, "measures": {}} for name in
                  ("no-empty-answer", "never-back", "no-referenced-delete", "converges", "no-lost-batch")}
    invariants["no-crash-loop"] = {"valid": False, "measures": {}}
    invariants["model"] = {"valid": True, "measures": {"checked": 199, "events": 199}}
    invariants["no-empty-answer"]["measures"] = {"longest_empty_s": 0.0}
    (folder / "results.json").write_text(json.dumps(
        {"valid": False, "seed": 1003, "mode": "legacy", "faults": ["pause enactor-c", "partition enactor-a"],
         "faults_started": 2, "run_s": 31.0, "reset_s": 4.5, "invariants": invariants}))
    lines = report.campaign_table([report.result_of(folder)], 40.0)
    assert lines[2] == ("| 1003 | 2: pause c, part a | ok | ok | ok | ok | ok | FAIL | ok | 0.0 s | — | 31 s |")
    assert any("1 run(s) in mode legacy: 1 with a violation" in line for line in lines)
    assert any("199 of 199 events checked" in line for line in lines)


def test_a_cascade_campaign_shows_7_and_the_time_to_95_percent_leased() -> None:
    base = {"seed": 2000, "mode": "safe", "faults": ["kill-redis redis", "partition-dynamodb dynamodb"],
            "valid": True, "run_s": 150.0, "reset_s": 5.0, "folder": "store/chaos/y",
            "verdicts": dict.fromkeys(("no-empty-answer", "never-back", "no-referenced-delete", "converges",
                                       "no-lost-batch", "no-crash-loop", "leases-recover"), True),
            "measures": {"leases-recover": {"recovery_s": 10.5}}}
    collapsed = {**base, "seed": 2001, "valid": False, "verdicts": {**base["verdicts"], "leases-recover": False},
                 "measures": {"leases-recover": {"recovery_s": None}}}
    assert report.row_header(True).split()[-5:] == ["7", "leased", "8", "9", "served"]
    assert "7" not in report.row_header(False).split()[-3:]
    assert row(base).split()[-4:] == ["ok", "10.5", "s", "store/chaos/y"] and "cut dynamodb" in row(base)
    assert row(collapsed).split()[-3:] == ["FAIL", "—", "store/chaos/y"]
    text = "\n".join(summary([base, collapsed], 310.0))
    assert "(7) 1" in text and "(7) the leases back within the bound after DynamoDB was: 1 of 2 runs; 95 % leased 10.5-10.5 s" in text
    table = report.campaign_table([base, collapsed], 310.0)
    assert table[0].endswith("| (7) | 95 % leased after |") and table[2].endswith("| ok | 10.5 s |")
    assert table[3].endswith("| FAIL | — |")


def test_a_cascade_campaign_with_the_network_shows_8_9_and_the_time_until_the_clients_were_served() -> None:
    base = {"seed": 11, "mode": "legacy", "faults": ["partition-dynamodb dynamodb", "propagation-storm netmgr"],
            "valid": False, "run_s": 250.0, "reset_s": 5.0, "folder": "store/chaos/z",
            "verdicts": {**dict.fromkeys(("no-empty-answer", "never-back", "no-referenced-delete", "converges",
                                          "no-lost-batch", "no-crash-loop", "leases-recover"), True),
                         "capacity-held": False, "clients-recover": False},
            "measures": {"leases-recover": {"recovery_s": 12.0},
                         "capacity-held": {"lowest_in_service": 3, "answering_removed": 4},
                         "clients-recover": {"recovery_s": 71.0, "worst_success_rate": 0.4}}}
    held = {**base, "seed": 12, "valid": True,
            "verdicts": {**base["verdicts"], "capacity-held": True, "clients-recover": True},
            "measures": {**base["measures"], "capacity-held": {"lowest_in_service": 10, "answering_removed": 0},
                         "clients-recover": {"recovery_s": 0.0, "worst_success_rate": 1.0}}}
    assert row(base).split()[-5:] == ["FAIL", "FAIL", "71.0", "s", "store/chaos/z"] and "storm netmgr" in row(base)
    assert row(held).split()[-5:] == ["ok", "ok", "0.0", "s", "store/chaos/z"]
    text = "\n".join(summary([base, held], 500.0))
    assert "(8) 1, (9) 1" in text
    assert "(8) capacity held: 1 of 2 runs; answering targets removed 4 in all; fewest in service 3-10" in text
    assert ("(9) the clients served within the bound after DNS and the storm: 1 of 2 runs; served 0.0-71.0 s after; "
            "the worst second 40% served") in text
    table = report.campaign_table([base, held], 500.0)
    assert table[0].endswith("| (7) | 95 % leased after | (8) | (9) | clients served after |")
    assert table[2].endswith("| ok | 12.0 s | FAIL | FAIL | 71.0 s |") and table[3].endswith("| ok | ok | 0.0 s |")


def test_a_campaign_without_the_cascade_keeps_its_columns() -> None:
    plain = {"seed": 7, "mode": "safe", "faults": [], "valid": True, "run_s": 30.0, "folder": "f",
             "verdicts": dict.fromkeys(("no-empty-answer", "never-back", "no-referenced-delete", "converges",
                                        "no-lost-batch", "no-crash-loop"), True), "measures": {}}
    assert "(7)" not in report.campaign_table([plain], 30.0)[0] and "(7)" not in "\n".join(summary([plain], 30.0))
