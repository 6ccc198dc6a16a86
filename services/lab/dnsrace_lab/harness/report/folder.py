"""A run's folder: written once (write_run) and judged again from its history alone (rejudge)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dnsrace_lab.harness import history
from dnsrace_lab.harness.checker import MODEL, Verdict, check_history, overall
from dnsrace_lab.harness.conformance import judge
from dnsrace_lab.harness.report.timeline_svg import render_timeline

__all__ = ["rejudge", "run_folder", "write_run"]


# --- the folder -----------------------------------------------------------------------------------------

def run_folder(store: Path, mode: str, name: str | int) -> Path:
    """store/<time>-<mode>-<name>/ (name: a chaos run's seed, a reproduce-outage run's scenario)."""
    folder = store / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{mode}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_run(folder: Path, recorded: Sequence[dict[str, Any]], verdicts: Mapping[str, Verdict],
              logs: Mapping[str, str], run_log: Sequence[str], *, summary: dict[str, Any]) -> None:
    history.write(folder / "history.jsonl", recorded)
    _write_results(folder, verdicts, summary)
    (folder / "run.log").write_text("\n".join(run_log) + "\n")
    (folder / "logs").mkdir(exist_ok=True)
    for service, text in logs.items():
        (folder / "logs" / f"{service}.log").write_text(text)
    (folder / "timeline.html").write_text(render_timeline(recorded, verdicts))
    history.link_latest(folder.parent.parent / "latest", folder)


def rejudge(folder: Path, *, model: bool = True) -> Mapping[str, Verdict]:
    """The verdicts of a recorded run, from its history alone; results.json and timeline.html rewritten."""
    recorded = history.read(folder / "history.jsonl")
    run = recorded[0]
    verdicts = check_history(recorded, str(run.get("endpoint")))
    if model:
        verdicts[MODEL] = judge(recorded)
    previous = json.loads((folder / "results.json").read_text()) if (folder / "results.json").exists() else {}
    kept = {key: value for key, value in previous.items() if key not in ("valid", "invariants")}
    _write_results(folder, verdicts, kept)
    (folder / "timeline.html").write_text(render_timeline(recorded, verdicts))
    return verdicts


def _write_results(folder: Path, verdicts: Mapping[str, Verdict], fields: Mapping[str, Any]) -> None:
    (folder / "results.json").write_text(json.dumps(
        {"valid": overall(verdicts), **fields, "invariants": {name: v.to_json() for name, v in verdicts.items()}},
        indent=2, default=str) + "\n")
