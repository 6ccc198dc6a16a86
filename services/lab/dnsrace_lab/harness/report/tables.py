"""The text a campaign prints and keeps: one row per run, the summary, the campaign's table (markdown)."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


from dnsrace_lab.harness.checker import CASCADE_INVARIANTS, INVARIANTS, MODEL, NETWORK_INVARIANTS, UNKNOWN

__all__ = ["ROW_HEADER", "SYMBOL", "campaign_table", "result_of", "row", "row_header", "run_summary", "summary",
           "write_campaign"]

SYMBOL = {True: "ok", False: "FAIL", UNKNOWN: "?"}
ROW_HEADER = (f"{'seed':>7}  {'faults':<58} {'1':>4} {'2':>4} {'3':>4} {'4':>4} {'5':>4} {'6':>4} {'M':>4}  "
              f"{'empty max':>9}  {'converge':>8}  {'run':>5}")
SHORT = {"latency": "lat", "timeout": "tmo", "reset-peer": "rst", "hold": "hold", "partition": "part",
         "pause": "pause", "kill-enactor": "kill", "kill-redis": "kill", "kill-dns-admin": "kill",
         "delete-live-plan": "delete-live", "partition-dynamodb": "cut", "propagation-storm": "storm"}
LEASES = CASCADE_INVARIANTS[0]   # (7): a column of its own in the runs that judged it
CAPACITY, CLIENTS = NETWORK_INVARIANTS   # (8), (9): columns of their own in the runs that judged them


def row_header(cascade: bool) -> str:
    """The rows' header; with the cascade, (7) and the time to 95 % leased after DynamoDB was back, (8),
    (9) and the time until the clients were served after the last of DNS and the storm."""
    return ROW_HEADER + (f"  {'7':>4}  {'leased':>8}  {'8':>4} {'9':>4}  {'served':>8}" if cascade else "")


def _cascade(results: Sequence[Mapping[str, Any]]) -> bool:
    return any(LEASES in r["verdicts"] for r in results)


def _network(results: Sequence[Mapping[str, Any]]) -> bool:
    return any(CLIENTS in r["verdicts"] for r in results)


def _leased_after(result: Mapping[str, Any]) -> str:
    return _seconds(_measure(result, LEASES, "recovery_s")) if LEASES in result["verdicts"] else "—"


def _served_after(result: Mapping[str, Any]) -> str:
    return _seconds(_measure(result, CLIENTS, "recovery_s")) if CLIENTS in result["verdicts"] else "—"


def write_campaign(store: Path, results: Sequence[dict[str, Any]], wall_s: float, *, command: str) -> Path:
    folder = store / "campaigns"
    folder.mkdir(parents=True, exist_ok=True)
    mode = results[0]["mode"] if results else "none"
    path = folder / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{mode}.md"
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    lines = [f"`{command}` — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, on {os.uname().nodename} "
             f"({os.cpu_count()} cores, load average at the end {load})", "", *campaign_table(results, wall_s)]
    path.write_text("\n".join(lines) + "\n")
    with open(folder / "runs.jsonl", "a") as runs:
        runs.write("".join(json.dumps(r, default=str) + "\n" for r in results))
    return path


def campaign_table(results: Sequence[Mapping[str, Any]], wall_s: float) -> list[str]:
    """The campaign's markdown table, one row per run, and its summary (the README's Chaos tables)."""
    cascade, network = _cascade(results), _network(results)
    extra = (" (7) | 95 % leased after |" if cascade else "") + (" (8) | (9) | clients served after |" if network else "")
    lines = ["| seed | faults | (1) | (2) | (3) | (4) | (5) | (6) | (M) | longest empty | converge | run |" + extra,
             "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if cascade else "")
             + ("---|---|---|" if network else "")]
    for r in results:
        cells = [str(r["seed"]), _faults_text(r["faults"]), *(SYMBOL[r["verdicts"][name]] for name in INVARIANTS),
                 SYMBOL[_model(r)],
                 _seconds(_measure(r, "no-empty-answer", "longest_empty_s")), _seconds(_measure(r, "converges", "converge_s")),
                 f"{r['run_s']:.0f} s"]
        if cascade:
            cells += [SYMBOL[r["verdicts"].get(LEASES, UNKNOWN)], _leased_after(r)]
        if network:
            cells += [SYMBOL[r["verdicts"].get(CAPACITY, UNKNOWN)], SYMBOL[r["verdicts"].get(CLIENTS, UNKNOWN)],
                      _served_after(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, "", *summary(results, wall_s)]


def result_of(folder: Path) -> dict[str, Any]:
    """A recorded run's row, as the campaign keeps it, from its results.json."""
    recorded = json.loads((folder / "results.json").read_text())
    invariants = recorded.get("invariants", {})
    return {**{key: recorded.get(key) for key in ("seed", "mode", "faults", "faults_started", "run_s", "reset_s",
                                                 "valid")}, "folder": str(folder),
            "verdicts": {name: v.get("valid") for name, v in invariants.items()},
            "measures": {name: v.get("measures") or {} for name, v in invariants.items()}}


# --- rows and the summary -------------------------------------------------------------------------------

def run_summary(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: fields[key] for key in ("seed", "mode", "faults", "faults_started", "run_s", "reset_s")}


def _model(result: Mapping[str, Any]) -> Any:
    """The run's model verdict (runs recorded before the trace check joined the campaign have none)."""
    return result["verdicts"].get(MODEL, UNKNOWN)


def _model_checked(result: Mapping[str, Any]) -> bool:
    """Did the trace check decide on some events (a prefix), or find no answer at all (Spin's time ran out)?"""
    return bool((result.get("measures") or {}).get(MODEL, {}).get("checked"))


def _measure(result: Mapping[str, Any], invariant: str, name: str) -> float | None:
    value = (result.get("measures") or {}).get(invariant, {}).get(name)
    return float(value) if value is not None else None


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _faults_text(labels: Sequence[str]) -> str:
    short = []
    for label in labels:
        fault, _, where = label.partition(" ")
        where = where.replace("enactor-", "").replace("->", ">")
        name = SHORT.get(fault, fault)
        short.append(name if fault == "delete-live-plan" else f"{name} {where}")
    return f"{len(labels)}: " + ", ".join(short)


def row(result: Mapping[str, Any]) -> str:
    faults = _faults_text(result["faults"])
    faults = faults if len(faults) <= 58 else faults[:55] + "..."
    marks = " ".join(f"{SYMBOL[value]:>4}" for value in (*(result['verdicts'][name] for name in INVARIANTS),
                                                           _model(result)))
    leases = (f"  {SYMBOL[result['verdicts'][LEASES]]:>4}  {_leased_after(result):>8}"
              if LEASES in result["verdicts"] else "")
    leases += (f"  {SYMBOL[result['verdicts'][CAPACITY]]:>4} {SYMBOL[result['verdicts'][CLIENTS]]:>4}  "
               f"{_served_after(result):>8}" if CLIENTS in result["verdicts"] else "")
    return (f"{result['seed']:>7}  {faults:<58} {marks}  {_seconds(_measure(result, 'no-empty-answer', 'longest_empty_s')):>9}"
            f"  {_seconds(_measure(result, 'converges', 'converge_s')):>8}  {result['run_s']:>4.0f}s{leases}  {result['folder']}")


def summary(results: Sequence[Mapping[str, Any]], wall_s: float) -> list[str]:
    if not results:
        return ["no runs"]
    judged = (*INVARIANTS, *((LEASES,) if _cascade(results) else ()),
              *(NETWORK_INVARIANTS if _network(results) else ()))
    broken = {name: sum(1 for r in results if r["verdicts"].get(name) is False) for name in judged}
    unknown = {name: sum(1 for r in results if r["verdicts"].get(name, UNKNOWN) == UNKNOWN) for name in judged}
    failed = sum(1 for r in results if r["valid"] is False)
    uncertain = sum(1 for r in results if r["valid"] == UNKNOWN)
    lengths = [float(r["run_s"]) for r in results]
    checked = sum(int((r.get("measures") or {}).get(MODEL, {}).get("checked") or 0) for r in results)
    events = sum(int((r.get("measures") or {}).get(MODEL, {}).get("events") or 0) for r in results)
    per_run_s = wall_s / len(results)
    return [
        f"summary: {len(results)} run(s) in mode {results[0]['mode']}: {failed} with a violation, "
        f"{uncertain} with an unknown verdict, {len(results) - failed - uncertain} valid",
        "  violations by invariant: " + ", ".join(f"({n}) {broken[name]}" for n, name in enumerate(judged, 1)),
        "  unknown by invariant:    " + ", ".join(f"({n}) {unknown[name]}" for n, name in enumerate(judged, 1)),
        *([_leases_line(results)] if _cascade(results) else []),
        *(_network_lines(results) if _network(results) else []),
        f"  model (the events a behaviour of model/dnsrace.pml): {sum(1 for r in results if _model(r) is True)} "
        f"whole runs, {sum(1 for r in results if _model(r) is False)} invalid (drift), "
        f"{sum(1 for r in results if _model(r) == UNKNOWN and _model_checked(r))} checked up to a fault the model "
        "leaves out"
        + (f", {unchecked} not checked (the trace check found no answer in its time)" if (unchecked := sum(
            1 for r in results if _model(r) == UNKNOWN and not _model_checked(r))) else "")
        + (f" ({checked} of {events} events checked in all)" if events else ""),
        f"  run length {min(lengths):.0f}-{max(lengths):.0f} s (median {statistics.median(lengths):.0f} s); with the "
        f"reset, {per_run_s:.0f} s a run: {3600 / per_run_s:.0f} runs per hour",
    ]


def _leases_line(results: Sequence[Mapping[str, Any]]) -> str:
    times = [t for r in results if (t := _measure(r, LEASES, "recovery_s")) is not None]
    held = sum(1 for r in results if r["verdicts"].get(LEASES) is True)
    return (f"  (7) the leases back within the bound after DynamoDB was: {held} of {len(results)} runs"
            + (f"; 95 % leased {min(times):.1f}-{max(times):.1f} s after" if times else ""))


def _network_lines(results: Sequence[Mapping[str, Any]]) -> list[str]:
    held = sum(1 for r in results if r["verdicts"].get(CAPACITY) is True)
    def measured(invariant: str, name: str) -> list[float]:
        return [v for r in results if (v := _measure(r, invariant, name)) is not None]
    lowest = measured(CAPACITY, "lowest_in_service")
    answering = sum(measured(CAPACITY, "answering_removed"))
    served = sum(1 for r in results if r["verdicts"].get(CLIENTS) is True)
    times, worst = measured(CLIENTS, "recovery_s"), measured(CLIENTS, "worst_success_rate")
    return [f"  (8) capacity held: {held} of {len(results)} runs; answering targets removed {answering:.0f} in all"
            + (f"; fewest in service {min(lowest):.0f}-{max(lowest):.0f}" if lowest else ""),
            f"  (9) the clients served within the bound after DNS and the storm: {served} of {len(results)} runs"
            + (f"; served {min(times):.1f}-{max(times):.1f} s after" if times else "")
            + (f"; the worst second {min(worst):.0%} served" if worst else "")]
