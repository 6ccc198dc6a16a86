"""Summarize `make reproduce-rate` runs into the README's results table.

    /usr/bin/python3 bench/summarize_rates.py [store/reproduce-rate/<run folder> ...]

Without arguments: the newest folder of each mode x scenario. For each, how many runs ended as the
mode promises (legacy: the outage or the late write; safe: no harm; the cascade's, named by the lease
manager's design: dwfm-legacy collapsed, dwfm-safe recovered by itself), the seconds per run, and the key
measure of each run: legacy's from what its log printed, safe's and the cascade's from the checker's
measures in the run's results.json (the log names its folder); nothing here is re-measured.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path
from typing import Any

TOP = Path(__file__).resolve().parents[1]
# Legacy: what the run printed (its story); a regex and the label.
PRINTED = {
    ("legacy", "race"): (r"fault -> empty answer:\s+([0-9.]+) s", "fault → endpoint empty, s"),
    ("legacy", "manual-delete"): (r"enactor-a (\d+) crashes", "crashes per enactor seen (enactor-a)"),
    ("legacy", "pause"): (r"clients got the stale plan for ([0-9.]+) s", "endpoint back on the stale plan, s"),
}
CASCADE_FULL_LEGACY = "dwfm-legacy-nlb-legacy-netmgr-legacy"
CASCADE_FULL_SAFE = "dwfm-safe-nlb-safe-netmgr-safe"
# Safe: the checker's measures (results.json: invariant -> measures), a path into them and the label.
JUDGED = {
    ("safe", "race"): [(("no-empty-answer", "answers"), "resolver answers, none empty")],
    ("safe", "pause"): [(("no-empty-answer", "answers"), "resolver answers, none empty")],
    ("safe", "manual-delete"): [(("no-empty-answer", "authoritative", "repaired_s", 0), "deletion → repaired, s"),
                                (("no-empty-answer", "longest_empty_s"), "resolver empty (negative cache), s")],
    # The cascade's rows are named by the lease manager's design; (7) judged every one of them.
    ("dwfm-legacy", "cascade"): [(("leases-recover", "leased_fraction_last"), "leased at the end"),
                                 (("leases-recover", "queue_at_dns_back"), "queue when DNS came back"),
                                 (("leases-recover", "queue_last"), "queue at the end")],
    ("dwfm-safe", "cascade"): [(("leases-recover", "recovery_s"), "DNS back → 95 % leased, s")],
    # The whole cascade's rows are named by its three downstream designs; (7)-(9) judged every one.
    (CASCADE_FULL_LEGACY, "cascade-full"): [
        (("capacity-held", "lowest_in_service"), "fewest targets in service (of 12)"),
        (("capacity-held", "answering_removed"), "answering targets removed"),
        (("clients-recover", "worst_success_rate"), "clients' worst second after DNS back")],
    (CASCADE_FULL_SAFE, "cascade-full"): [
        (("leases-recover", "recovery_s"), "DNS back → 95 % leased, s"),
        (("capacity-held", "lowest_in_service"), "fewest targets in service (of 12)"),
        (("clients-recover", "errors_after_dns_back"), "client errors after DNS back")],
}


def judged(log_text: str, path: tuple[object, ...]) -> float | None:
    """A measure from the run's results.json (the log's `history:` line names the run's folder)."""
    match = re.search(r"history:\s+(\S+)/history\.jsonl", log_text)
    results = TOP / match.group(1) / "results.json" if match else None
    if results is None or not results.exists():
        return None
    value: Any = json.loads(results.read_text())["invariants"]
    for key in (path[0], "measures", *path[1:]):
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return round(float(value), 2) if isinstance(value, (int, float)) else None


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


def mode_and_scenario(name: str) -> tuple[str, str]:
    """`<time>-<mode>-<scenario>`; the cascade's mode is the lease manager's (`dwfm-legacy`), cascade-full's its
    three designs (`dwfm-legacy-nlb-legacy-netmgr-legacy`)."""
    parts = name.split("-", 1)
    if len(parts) < 2 or "-" not in parts[1]:
        return "?", "?"
    rest = parts[1]
    designs = re.match(r"(dwfm-[a-z]+-nlb-[a-z]+-netmgr-[a-z]+)-(.+)$", rest)
    if designs:     # cascade-full: its three downstream designs
        return designs.group(1), designs.group(2)
    if rest.startswith("dwfm-"):
        mode, _, scenario = rest[len("dwfm-"):].partition("-")
        return f"dwfm-{mode}", scenario
    mode, _, scenario = rest.partition("-")
    return mode, scenario


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or newest_folders()
    print("| mode | scenario | as promised | seconds per run (reset included) | measured in each run |")
    print("|---|---|---|---|---|")
    for folder in folders:
        mode, scenario = mode_and_scenario(folder.name)
        summary = (folder / "summary.txt").read_text() if (folder / "summary.txt").exists() else ""
        promised = re.search(r"as promised (\d+) of (\d+)", summary)
        seconds = re.search(r"min (\d+), max (\d+)", summary)
        pattern, label = PRINTED.get((mode, scenario), (None, ""))
        wanted = JUDGED.get((mode, scenario), [])
        values: list[float] = []
        found: list[list[float]] = [[] for _ in wanted]
        for log in sorted(folder.glob("run-*.log")):
            text = log.read_text(errors="replace")
            if pattern and (match := re.search(pattern, text)):
                values.append(float(match.group(1)))
            for column, (path, _) in zip(found, wanted):
                if (value := judged(text, path)) is not None:
                    column.append(value)
        parts = [f"{label}: {span(values)}"] if pattern else []
        parts += [f"{name}: {span(column)}" for column, (_, name) in zip(found, wanted)]
        measured = "; ".join(parts)
        print(f"| {mode} | {scenario} | {promised.group(1) + ' of ' + promised.group(2) if promised else '?'} | "
              f"{seconds.group(1) + '–' + seconds.group(2) if seconds else '?'} | {measured} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
