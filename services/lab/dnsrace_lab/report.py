"""The report: what a chaos run leaves behind, and how it reads.

    store/chaos/<time>-<mode>-<seed>/
        history.jsonl   everything that happened (history.py), the run's line first
        results.json    the verdict of each invariant, with its evidence and measures
        run.log         the run's own log; its first line is the seed and every parameter
        logs/<service>.log   each container's log during the run
        timeline.html   the resolver's (and the authoritative view's) answers over time as an inline SVG,
                        the endpoint's plan against the newest, each fault's window shaded and labelled,
                        the violations marked; the verdicts; the event timeline beneath. One file: no
                        script, no stylesheet or font fetched from anywhere.
    store/latest -> the newest run;  store/chaos/campaigns/<time>-<mode>.md: a campaign's table

`render_timeline`, `row` and `summary` are pure; the write_* functions are the only I/O.

    python3 -m dnsrace_lab.report store/chaos/<run> [...]   judge a recorded history again (results.json,
                                                           timeline.html rewritten): the stack is not needed
"""

from __future__ import annotations

import html
import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dnsrace import zone_history
from dnsrace.events import Event
from dnsrace.plans import generation_of_plan_id, generation_of_record_name
from dnsrace.timeline import sentence

from .checker import INVARIANTS, MODEL, UNKNOWN, Verdict, fault_windows, overall

__all__ = ["ROW_HEADER", "campaign_table", "render_timeline", "result_of", "row", "run_folder", "summary",
           "write_campaign", "write_run"]

SYMBOL = {True: "ok", False: "FAIL", UNKNOWN: "?"}
ROW_HEADER = (f"{'seed':>7}  {'faults':<58} {'1':>4} {'2':>4} {'3':>4} {'4':>4} {'5':>4} {'6':>4} {'M':>4}  "
              f"{'empty max':>9}  {'converge':>8}  {'run':>5}")
# Routine bookkeeping the timeline table leaves out (history.jsonl keeps all of it).
ROUTINE = {"lock_released", "record_set_written", "zone_rendered", "batch_accepted", "plan_skipped", "lock_refused",
           "backend_healthy", "check_passed", "lock_acquired", "apply_finished", "endpoint_unchanged",
           "self_check_answering"}
SHORT = {"latency": "lat", "timeout": "tmo", "reset-peer": "rst", "hold": "hold", "partition": "part",
         "pause": "pause", "kill-enactor": "kill", "kill-redis": "kill", "kill-dns-admin": "kill",
         "delete-live-plan": "delete-live"}


# --- the folder -----------------------------------------------------------------------------------------

def run_folder(store: Path, mode: str, name: str | int) -> Path:
    """store/<time>-<mode>-<name>/ (name: a chaos run's seed, a reproduce-outage run's scenario)."""
    folder = store / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{mode}-{name}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_run(folder: Path, recorded: Sequence[dict[str, Any]], verdicts: Mapping[str, Verdict],
              logs: Mapping[str, str], run_log: Sequence[str], *, summary: dict[str, Any]) -> None:
    from . import history  # the writer of the history lives with its format
    history.write(folder / "history.jsonl", recorded)
    (folder / "results.json").write_text(json.dumps(
        {"valid": overall(verdicts), **summary, "invariants": {name: v.to_json() for name, v in verdicts.items()}},
        indent=2, default=str) + "\n")
    (folder / "run.log").write_text("\n".join(run_log) + "\n")
    (folder / "logs").mkdir(exist_ok=True)
    for service, text in logs.items():
        (folder / "logs" / f"{service}.log").write_text(text)
    (folder / "timeline.html").write_text(render_timeline(recorded, verdicts))
    history.link_latest(folder.parent.parent / "latest", folder)


def rejudge(folder: Path, *, model: bool = True) -> Mapping[str, Verdict]:
    """The verdicts of a recorded run, from its history alone; results.json and timeline.html rewritten."""
    from . import history
    from .checker import check_history
    recorded = history.read(folder / "history.jsonl")
    run = recorded[0]
    verdicts = check_history(recorded, str(run.get("endpoint")))
    if model:
        from .conformance import judge
        verdicts[MODEL] = judge(recorded)
    previous = json.loads((folder / "results.json").read_text()) if (folder / "results.json").exists() else {}
    kept = {key: value for key, value in previous.items() if key not in ("valid", "invariants")}
    (folder / "results.json").write_text(json.dumps(
        {"valid": overall(verdicts), **kept, "invariants": {name: v.to_json() for name, v in verdicts.items()}},
        indent=2, default=str) + "\n")
    (folder / "timeline.html").write_text(render_timeline(recorded, verdicts))
    return verdicts


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
    lines = ["| seed | faults | (1) | (2) | (3) | (4) | (5) | (6) | (M) | longest empty | converge | run |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cells = [str(r["seed"]), _faults_text(r["faults"]), *(SYMBOL[r["verdicts"][name]] for name in INVARIANTS),
                 SYMBOL[_model(r)],
                 _seconds(_measure(r, "no-empty-answer", "longest_empty_s")), _seconds(_measure(r, "converges", "converge_s")),
                 f"{r['run_s']:.0f} s"]
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
    return (f"{result['seed']:>7}  {faults:<58} {marks}  {_seconds(_measure(result, 'no-empty-answer', 'longest_empty_s')):>9}"
            f"  {_seconds(_measure(result, 'converges', 'converge_s')):>8}  {result['run_s']:>4.0f}s  {result['folder']}")


def summary(results: Sequence[Mapping[str, Any]], wall_s: float) -> list[str]:
    if not results:
        return ["no runs"]
    broken = {name: sum(1 for r in results if r["verdicts"][name] is False) for name in INVARIANTS}
    unknown = {name: sum(1 for r in results if r["verdicts"][name] == UNKNOWN) for name in INVARIANTS}
    failed = sum(1 for r in results if r["valid"] is False)
    uncertain = sum(1 for r in results if r["valid"] == UNKNOWN)
    lengths = [float(r["run_s"]) for r in results]
    checked = sum(int((r.get("measures") or {}).get(MODEL, {}).get("checked") or 0) for r in results)
    events = sum(int((r.get("measures") or {}).get(MODEL, {}).get("events") or 0) for r in results)
    per_run_s = wall_s / len(results)
    return [
        f"summary: {len(results)} run(s) in mode {results[0]['mode']}: {failed} with a violation, "
        f"{uncertain} with an unknown verdict, {len(results) - failed - uncertain} valid",
        "  violations by invariant: " + ", ".join(f"({n}) {broken[name]}" for n, name in enumerate(INVARIANTS, 1)),
        "  unknown by invariant:    " + ", ".join(f"({n}) {unknown[name]}" for n, name in enumerate(INVARIANTS, 1)),
        f"  model (the events a behaviour of model/dnsrace.pml): {sum(1 for r in results if _model(r) is True)} "
        f"whole runs, {sum(1 for r in results if _model(r) is False)} invalid (drift), "
        f"{sum(1 for r in results if _model(r) == UNKNOWN)} checked up to a fault the model leaves out"
        + (f" ({checked} of {events} events checked in all)" if events else ""),
        f"  run length {min(lengths):.0f}-{max(lengths):.0f} s (median {statistics.median(lengths):.0f} s); with the "
        f"reset, {per_run_s:.0f} s a run: {3600 / per_run_s:.0f} runs per hour",
    ]


# --- timeline.html --------------------------------------------------------------------------------------

WIDTH = 1360
LEFT = 150
RIGHT = 20
LANE_H = 15
LABEL_LANES_MAX = 6     # rows for the violations' labels under the chart
COLORS = {"ok": "#2e9d4f", "fail": "#d7263d", "info": "#9aa0a6"}
FAULT_COLORS = {"latency": "#f4b942", "timeout": "#f08a24", "reset-peer": "#e4572e", "hold": "#8e6bbf",
                "partition": "#4a90d9", "pause": "#5bc0be", "kill-enactor": "#6c757d", "kill-redis": "#343a40",
                "kill-dns-admin": "#495057", "delete-live-plan": "#b5179e"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def render_timeline(recorded: Sequence[dict[str, Any]], verdicts: Mapping[str, Verdict]) -> str:
    run = recorded[0] if recorded and recorded[0].get("source") == "run" else {}
    endpoint = str(run.get("endpoint") or "dynamodb.us-east-1.lab.test")
    body = recorded[1:] if run else recorded
    times = [float(r["t"]) for r in body if r.get("source") in ("client", "nemesis") and r.get("t")]
    if not times:
        return "<!doctype html><title>chaos run</title><p>empty history</p>"
    start, end = min(times), max(times)
    span = max(end - start, 1.0)
    plot_w = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return LEFT + (min(max(t, start), end) - start) / span * plot_w

    windows = [w for w in fault_windows([r for r in body if r.get("source") == "nemesis"]) if w.fault != "all"]
    lanes: list[float] = []
    lane_of = []
    for window in windows:           # greedy lanes, so labels of overlapping faults do not collide
        stop = window.stop if window.stop is not None else end
        label_end = x(window.start) + 8 + 7 * len(_fault_label(window))
        lane = next((n for n, free_at in enumerate(lanes) if free_at <= x(window.start)), len(lanes))
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = max(x(stop), label_end)
        lane_of.append(lane)
    fault_h = max(1, len(lanes)) * LANE_H + 8
    panels = [("resolver answers", "resolver", 120), ("authoritative view", "authoritative", 70),
              ("plan generation", "generation", 150)]
    top = 24 + fault_h
    panels_h = sum(h + 24 for _, _, h in panels)
    height = top + panels_h + 16 + LABEL_LANES_MAX * 12
    svg: list[str] = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
                      f'font-family="sans-serif" font-size="11">']
    svg.append(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>')
    # Fault windows: shaded over every panel, labelled in their lane.
    for window, lane in zip(windows, lane_of):
        stop = window.stop if window.stop is not None else end
        color = FAULT_COLORS.get(window.fault, "#999")
        x0, x1 = x(window.start), max(x(stop), x(window.start) + 2)
        svg.append(f'<rect x="{x0:.1f}" y="{top - 4}" width="{x1 - x0:.1f}" height="{panels_h - 20}" '
                   f'fill="{color}" opacity="0.13"><title>{_esc(_fault_label(window))}</title></rect>')
        y = 22 + lane * LANE_H
        svg.append(f'<rect x="{x0:.1f}" y="{y}" width="{x1 - x0:.1f}" height="{LANE_H - 3}" fill="{color}" opacity="0.85"/>')
        svg.append(f'<text x="{x0 + 3:.1f}" y="{y + 10}" fill="#111">{_esc(_fault_label(window))}</text>')
    svg.append(f'<text x="8" y="{22 + 10}" font-weight="bold">faults</text>')
    y = top
    for title, what, h in panels:
        svg.append(f'<text x="8" y="{y + 14}" font-weight="bold">{_esc(title)}</text>')
        svg.append(f'<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{h}" fill="none" stroke="#ccc"/>')
        if what == "generation":
            svg += _generation_panel(body, endpoint, x, y, h, start, end)
        else:
            svg += _answers_panel([r for r in body if r.get("source") == "client" and r.get("process") == what],
                                  x, y, h)
        y += h + 24
    # Violations: a red band or line over every panel, labelled at the bottom, each label once, in lanes.
    label_lanes: list[float] = []
    labelled: set[str] = set()
    for verdict in verdicts.values():
        for mark in verdict.marks:
            x0 = x(mark.t)
            if mark.until is not None and mark.until > mark.t:
                svg.append(f'<rect x="{x0:.1f}" y="{top}" width="{max(x(mark.until) - x0, 2):.1f}" '
                           f'height="{y - top - 24}" fill="none" stroke="#d7263d" stroke-width="2"/>')
            else:
                svg.append(f'<line x1="{x0:.1f}" x2="{x0:.1f}" y1="{top}" y2="{y - 24}" stroke="#d7263d" '
                           f'stroke-width="2" stroke-dasharray="4 3"/>')
            if mark.label in labelled:
                continue
            labelled.add(mark.label)
            width = 6.5 * len(mark.label)
            anchor = "end" if x0 + width > WIDTH - RIGHT else "start"   # near the right edge, read leftwards
            left = x0 - width if anchor == "end" else x0
            lane = next((n for n, free_at in enumerate(label_lanes) if free_at < left),
                        min(len(label_lanes), LABEL_LANES_MAX - 1))
            if lane == len(label_lanes):
                label_lanes.append(0.0)
            label_lanes[lane] = left + width + 8
            svg.append(f'<text x="{x0 + (-3 if anchor == "end" else 3):.1f}" y="{y + 4 + 12 * lane}" '
                       f'text-anchor="{anchor}" fill="#d7263d">{_esc(mark.label)}</text>')
    # The time axis, in seconds from the first probe.
    step = 5 if span <= 90 else 10
    for second in range(0, int(span) + 1, step):
        tx = x(start + second)
        svg.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{y - 24}" stroke="#eee"/>')
        svg.append(f'<text x="{tx:.1f}" y="{y - 10}" text-anchor="middle" fill="#555">{second} s</text>')
    svg.append("</svg>")
    return _page(run, verdicts, "\n".join(svg), _event_table(body, start))


def _fault_label(window: Any) -> str:
    where = window.detail.get("proxy") or window.target
    extra = ""
    if window.fault == "pause" and "while_locked" in window.detail:
        extra = " (holding the lock)" if window.detail["while_locked"] else " (lock not seen)"
    if window.fault == "kill-dns-admin" and "mid_batch" in window.detail:
        extra = " (mid-batch)" if window.detail["mid_batch"] else " (no batch seen)"
    if window.fault == "delete-live-plan":
        where = window.detail.get("plan", "")
    return f"#{window.id} {window.fault} {where}{extra}" if window.id is not None else f"{window.fault} {where}"


def _answers_panel(completions: Sequence[dict[str, Any]], x: Any, top: float, h: float) -> list[str]:
    """Run-length segments: a run of equal answers is one bar (count of addresses as its height)."""
    ops = sorted((op for op in completions if op.get("type") in ("ok", "fail", "info")), key=lambda op: op["t"])
    highest = max([len(op.get("value") or []) for op in ops] + [3])
    out = [f'<text x="{LEFT - 6}" y="{top + 10}" text-anchor="end" fill="#555">{highest} addr</text>',
           f'<text x="{LEFT - 6}" y="{top + h - 2}" text-anchor="end" fill="#d7263d">empty</text>']
    runs: list[tuple[str, int, float, float, int]] = []
    for op in ops:
        key = (op["type"], len(op.get("value") or []))
        if runs and (runs[-1][0], runs[-1][1]) == key:
            kind, count, first, _last, n = runs[-1]
            runs[-1] = (kind, count, first, float(op["t"]), n + 1)
        else:
            if runs:   # a run lasts until the next answer
                kind, count, first, _last, n = runs[-1]
                runs[-1] = (kind, count, first, float(op["t"]), n)
            runs.append((key[0], key[1], float(op["t"]), float(op["t"]), 1))
    for kind, count, first, last, n in runs:
        x0, x1 = x(first), max(x(last), x(first) + 1.5)
        if kind == "ok":
            bar = (h - 14) * count / highest
            y0 = top + h - 4 - bar
        elif kind == "fail":
            bar, y0 = h - 8, top + 4
        else:
            bar, y0 = 8, top + 2
        text = {"ok": f"{count} addresses", "fail": "EMPTY answer", "info": "timeout (unknown)"}[kind]
        out.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{bar:.1f}" fill="{COLORS[kind]}" '
                   f'opacity="{0.35 if kind == "fail" else 0.8}"><title>{text}: {n} answer(s)</title></rect>')
    return out


def _generation_panel(body: Sequence[dict[str, Any]], endpoint: str, x: Any, top: float, h: float,
                      start: float, end: float) -> list[str]:
    created = sorted((float(r["t"]), generation_of_plan_id(str(r["plan"]))) for r in body
                     if r.get("source") == "event" and r.get("kind") == "plan_created" and r.get("plan"))
    audit = [r for r in body if r.get("source") == "audit"]
    live: list[tuple[float, int | None]] = []
    for step in zone_history.replay(zone_history.batches_from_audit(audit), complete=True):
        target = zone_history.alias_of(step.after, endpoint)
        generation = generation_of_record_name(target, endpoint) if target else None
        there = target is not None and zone_history.exists(step.after, target, "A", complete=True)
        live.append((step.batch.t, generation if there else None))
    values = [g for _, g in created] + [g for _, g in live if g is not None]
    if not values:
        return [f'<text x="{LEFT + 6}" y="{top + 20}" fill="#555">no plans in the history</text>']
    visible = [g for t, g in created if start <= t <= end] + [g for t, g in live if g is not None and start <= t <= end]
    low, high = min(visible or values) - 1, max(visible or values) + 1

    def y(g: float) -> float:
        return top + h - 6 - (g - low) / max(high - low, 1) * (h - 12)

    def steps(points: Sequence[tuple[float, float | None]]) -> list[str]:
        segments: list[str] = []
        path: list[str] = []
        previous: float | None = None
        for t, g in points:
            if g is None:
                if path:
                    path.append(f"L{x(t):.1f},{y(previous or low):.1f}")
                    segments.append(" ".join(path))
                path, previous = [], None
                continue
            if not path:
                path = [f"M{x(t):.1f},{y(g):.1f}"]
            else:
                path += [f"L{x(t):.1f},{y(previous or g):.1f}", f"L{x(t):.1f},{y(g):.1f}"]
            previous = g
        if path and previous is not None:
            path.append(f"L{x(end):.1f},{y(previous):.1f}")
            segments.append(" ".join(path))
        return segments

    out = [f'<text x="{LEFT - 6}" y="{y(high - 1) + 4:.1f}" text-anchor="end" fill="#555">{high - 1}</text>',
           f'<text x="{LEFT - 6}" y="{y(low + 1) + 4:.1f}" text-anchor="end" fill="#555">{low + 1}</text>']
    for d in steps([(t, float(g)) for t, g in created]):
        out.append(f'<path d="{d}" fill="none" stroke="#9aa0a6" stroke-width="2"/>')
    for d in steps([(t, float(g) if g is not None else None) for t, g in live]):
        out.append(f'<path d="{d}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    for (t0, g0), (t1, g1) in zip(live, live[1:]):
        if g0 is not None and g1 is None:
            out.append(f'<circle cx="{x(t1):.1f}" cy="{top + h - 6}" r="4" fill="#d7263d"><title>the endpoint '
                       f'aliases a plan that does not exist</title></circle>')
        elif g0 is not None and g1 is not None and g1 < g0:
            out.append(f'<circle cx="{x(t1):.1f}" cy="{y(g1):.1f}" r="5" fill="#d7263d"><title>back from {g0} to '
                       f'{g1}</title></circle>')
    out.append(f'<text x="{LEFT + 6}" y="{top + 12}" fill="#9aa0a6">— newest plan (planner)</text>')
    out.append(f'<text x="{LEFT + 160}" y="{top + 12}" fill="#1f6feb">— plan the endpoint aliases (dns-admin\'s '
               f'audit; gap: aliases a plan that does not exist)</text>')
    return out


def _event_table(body: Sequence[dict[str, Any]], start: float) -> str:
    lines = []
    hidden = 0
    for r in body:
        if r.get("source") == "nemesis":
            if r.get("type") == "phase":
                text, service, css = f"— {r.get('phase')}: {r.get('why')}", "chaos", "phase"
            else:
                detail = {k: v for k, v in r.items() if k not in ("source", "type", "t")}
                text, service, css = sentence(Event(float(r["t"]), "nemesis", str(r.get("type")), detail=detail)), "nemesis", "fault"
        elif r.get("source") == "event":
            if r.get("kind") in ROUTINE or r.get("service") == "lab":
                hidden += 1
                continue
            event = Event.from_json(r)
            text, service = sentence(event), event.service
            css = "bad" if event.kind in ("enactor_crashed", "batch_rejected", "endpoint_empty_found",
                                           "enactor_frozen") else ""
            if r.get("from_log"):
                text += "  (from the container's log: the stream lost it)"
        else:
            continue
        lines.append(f'<tr class="{css}"><td>{float(r["t"]) - start:+.3f}s</td><td>{_esc(service)}</td>'
                     f'<td>{_esc(text)}</td></tr>')
    note = f"<p>{hidden} routine events (locks, record-set writes, dns-admin's echoes, renders) are in history.jsonl only.</p>"
    return note + '<table class="events">' + "".join(lines) + "</table>"


def _page(run: Mapping[str, Any], verdicts: Mapping[str, Verdict], svg: str, events: str) -> str:
    valid = overall(verdicts)
    rows = "".join(
        f'<tr class="{"bad" if v.valid is False else "unknown" if v.valid == UNKNOWN else "good"}">'
        f'<td>{_esc(v.title)}</td><td><b>{_esc(SYMBOL[v.valid])}</b></td>'
        f'<td>{"<br>".join(_esc(e) for e in v.evidence)}</td></tr>' for v in verdicts.values())
    schedule = run.get("schedule") or {}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(run.get("started") or 0)))
    title = f"chaos run: mode {run.get('mode')}, seed {run.get('seed')}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #111; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
.verdict {{ font-weight: bold; color: {"#d7263d" if valid is False else "#2e9d4f" if valid is True else "#b8860b"}; }}
table {{ border-collapse: collapse; font-size: 12px; }}
td {{ border-bottom: 1px solid #eee; padding: 2px 8px; vertical-align: top; }}
tr.bad td {{ background: #fde8ea; }} tr.unknown td {{ background: #fff6d6; }} tr.good td:nth-child(2) {{ color: #2e9d4f; }}
tr.fault td {{ background: #f1ecf9; }} tr.phase td {{ background: #eef4fb; font-style: italic; }}
table.events td:first-child {{ font-family: monospace; white-space: nowrap; }}
code {{ background: #f4f4f4; padding: 1px 3px; }}
</style></head><body>
<h1>{_esc(title)} — <span class="verdict">{_esc({True: "VALID", False: "INVALID", UNKNOWN: "UNKNOWN"}[valid])}</span></h1>
<p>started {_esc(started)} on {_esc(run.get("host"))} ({_esc(run.get("cpus"))} cores), project {_esc(run.get("project"))};
{len(schedule.get("faults") or [])} faults scheduled; replay: <code>make chaos-replay RUN=&lt;this folder&gt;</code>;
parameters: <code>{_esc(json.dumps(schedule.get("parameters") or {}, sort_keys=True))}</code></p>
{svg}
<p>Resolver and authoritative panels: green bars are answers (height: addresses), red is an EMPTY answer
(NODATA or NXDOMAIN), grey at the top a timeout (unknown, never counted). Shaded columns are fault windows;
red lines and boxes are violations.</p>
<h2 style="font-size:15px">Verdicts</h2>
<table>{rows}</table>
<h2 style="font-size:15px">Events</h2>
{events}
</body></html>
"""


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.report",
                                     description="judge recorded chaos runs again, from their histories alone")
    parser.add_argument("runs", nargs="+", type=Path, help="store/chaos/<time>-<mode>-<seed> folders")
    parser.add_argument("--table", metavar="WALL_S", type=float,
                        help="then print the campaign's table and summary, the runs having taken WALL_S in all")
    args = parser.parse_args(argv)
    values = []
    for folder in args.runs:
        verdicts = rejudge(folder)
        values.append(overall(verdicts))
        print(f"{folder}: {' '.join(f'({n}) {SYMBOL[v.valid]}' for n, v in enumerate(verdicts.values(), 1))}",
              file=sys.stderr if args.table else sys.stdout)
    if args.table:
        print("\n".join(campaign_table([result_of(folder) for folder in args.runs], args.table)))
    return 1 if False in values else 2 if UNKNOWN in values else 0


if __name__ == "__main__":
    raise SystemExit(main())
