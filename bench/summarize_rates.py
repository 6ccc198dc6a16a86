"""Summarize `make reproduce-rate` runs into the README's results table.

    /usr/bin/python3 bench/summarize_rates.py [store/reproduce-rate/<run folder> ...]

Without arguments: the newest folder of each mode x scenario. For each, how many runs ended as the
mode promises (legacy: the outage or the late write; safe: no harm), the seconds per run, and the key
measure each run printed (from its own log: nothing here is re-measured).
"""

from __future__ import annotations

import re
import statistics
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
MEASURES = {
    ("legacy", "race"): (r"fault -> empty answer:\s+([0-9.]+) s", "fault → endpoint empty, s"),
    ("legacy", "manual-delete"): (r"enactor-a (\d+) crashes", "crashes per enactor seen (enactor-a)"),
    ("legacy", "pause"): (r"clients got the stale plan for ([0-9.]+) s", "endpoint back on the stale plan, s"),
    ("safe", "race"): (r"the resolver never answered empty: ([0-9]+) probes", "resolver probes, none empty"),
    ("safe", "pause"): (r"the resolver never answered empty: ([0-9]+) probes", "resolver probes, none empty"),
    ("safe", "manual-delete"): (r"repaired the endpoint ([0-9.]+) s after the deletion", "deletion → repaired, s"),
}
EXTRA = {("safe", "manual-delete"): (r"resolver: answered empty for ([0-9.]+) s", "resolver empty (negative cache), s")}


def newest_folders() -> list[Path]:
    folders = sorted((TOP / "store/reproduce-rate").glob("*-*-*"))
    chosen: dict[str, Path] = {}
    for folder in folders:
        key = folder.name.split("-", 1)[1]
        chosen[key] = folder  # sorted by time: the last one wins
    return list(chosen.values())


def span(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{min(values):g}–{max(values):g} (median {statistics.median(values):g})"


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or newest_folders()
    print("| mode | scenario | as promised | seconds per run (reset included) | measured in each run |")
    print("|---|---|---|---|---|")
    for folder in folders:
        mode, scenario = folder.name.split("-", 2)[1:] if folder.name.count("-") >= 2 else ("?", "?")
        summary = (folder / "summary.txt").read_text() if (folder / "summary.txt").exists() else ""
        promised = re.search(r"as promised (\d+) of (\d+)", summary)
        seconds = re.search(r"min (\d+), max (\d+)", summary)
        pattern, label = MEASURES.get((mode, scenario), (None, ""))
        values = []
        extra_values = []
        for log in sorted(folder.glob("run-*.log")):
            text = log.read_text(errors="replace")
            if pattern and (match := re.search(pattern, text)):
                values.append(float(match.group(1)))
            if (mode, scenario) in EXTRA and (match := re.search(EXTRA[(mode, scenario)][0], text)):
                extra_values.append(float(match.group(1)))
        measured = f"{label}: {span(values)}"
        if extra_values:
            measured += f"; {EXTRA[(mode, scenario)][1]}: {span(extra_values)}"
        print(f"| {mode} | {scenario} | {promised.group(1) + ' of ' + promised.group(2) if promised else '?'} | "
              f"{seconds.group(1) + '–' + seconds.group(2) if seconds else '?'} | {measured} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
