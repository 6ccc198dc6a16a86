"""timeline.html: one run drawn as an inline SVG (answers, the plan generation, the faults, the
violations), its verdicts and its event table; one file, nothing fetched. Pure: history in, HTML out."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from dnsrace import zone_history
from dnsrace.events import Event
from dnsrace.plans import generation_of_plan_id, generation_of_record_name
from dnsrace.timeline import sentence

from dnsrace_lab.harness.checker import UNKNOWN, Verdict, fault_windows, overall
from dnsrace_lab.harness.impact import chain, impact_windows
from dnsrace_lab.harness.report import blast_radius, lease_panels
from dnsrace_lab.harness.report.tables import SYMBOL

__all__ = ["render_timeline"]

# Routine bookkeeping the timeline table leaves out (history.jsonl keeps all of it).
ROUTINE = {"lock_released", "record_set_written", "zone_rendered", "batch_accepted", "plan_skipped", "lock_refused",
           "backend_healthy", "check_passed", "lock_acquired", "apply_finished", "endpoint_unchanged",
           "self_check_answering"}

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
    lane_of, lanes = _fault_lanes(windows, x, end)
    fault_h = max(1, lanes) * LANE_H + 8
    panels = [("resolver answers", "resolver", 120), ("authoritative view", "authoritative", 70),
              ("plan generation", "generation", 150)]
    if blast_radius.has_figures(body):   # the cascade's act 2: every node of the dependency graph, per second
        panels.insert(0, ("blast radius", "blast", blast_radius.panel_height()))
    if lease_panels.has_figures(body):   # the cascade: what the lease manager and launches did meanwhile
        panels += list(lease_panels.PANELS)
    top = 24 + fault_h
    panels_h = sum(h + 24 for _, _, h in panels)
    height = top + panels_h + 16 + LABEL_LANES_MAX * 12
    svg: list[str] = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
                      f'font-family="sans-serif" font-size="11">']
    svg.append(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#fff"/>')
    svg += _fault_bands(windows, lane_of, x, end, top, panels_h)
    y = top
    for title, what, h in panels:
        svg.append(f'<text x="8" y="{y + 14}" font-weight="bold">{_esc(title)}</text>')
        svg.append(f'<rect x="{LEFT}" y="{y}" width="{plot_w}" height="{h}" fill="none" stroke="#ccc"/>')
        if what == "generation":
            svg += _generation_panel(body, endpoint, x, y, h, start, end)
        elif what == "blast":
            svg += blast_radius.blast_radius_panel(body, x, LEFT, y, h)
        elif what == "leases":
            svg += lease_panels.leases_panel(body, x, LEFT, y, h)
        elif what == "launches":
            svg += lease_panels.launches_panel(body, x, LEFT, y, h)
        else:
            svg += _answers_panel([r for r in body if r.get("source") == "client" and r.get("process") == what],
                                  x, y, h)
        y += h + 24
    svg += _violation_marks(verdicts, x, top, y)
    svg += _time_axis(x, start, span, top, y)
    svg.append("</svg>")
    alerts = chain(impact_windows(recorded), start) if blast_radius.has_figures(body) else []
    return _page(run, verdicts, "\n".join(svg), _event_table(body, start), alerts)


def _fault_lanes(windows: Sequence[Any], x: Any, end: float) -> tuple[list[int], int]:
    """Greedy lanes, so labels of overlapping faults do not collide: each window's lane, and how many."""
    lanes: list[float] = []
    lane_of = []
    for window in windows:
        stop = window.stop if window.stop is not None else end
        label_end = x(window.start) + 8 + 7 * len(_fault_label(window))
        lane = next((n for n, free_at in enumerate(lanes) if free_at <= x(window.start)), len(lanes))
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = max(x(stop), label_end)
        lane_of.append(lane)
    return lane_of, len(lanes)


def _fault_bands(windows: Sequence[Any], lane_of: Sequence[int], x: Any, end: float, top: float,
                 panels_h: float) -> list[str]:
    """Fault windows: shaded over every panel, labelled in their lane."""
    svg = []
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
    return svg


def _violation_marks(verdicts: Mapping[str, Verdict], x: Any, top: float, y: float) -> list[str]:
    """Violations: a red band or line over every panel, labelled at the bottom, each label once, in lanes."""
    svg = []
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
    return svg


def _time_axis(x: Any, start: float, span: float, top: float, y: float) -> list[str]:
    """The time axis, in seconds from the first probe."""
    svg = []
    step = 5 if span <= 90 else 10
    for second in range(0, int(span) + 1, step):
        tx = x(start + second)
        svg.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{y - 24}" stroke="#eee"/>')
        svg.append(f'<text x="{tx:.1f}" y="{y - 10}" text-anchor="middle" fill="#555">{second} s</text>')
    return svg


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


def _page(run: Mapping[str, Any], verdicts: Mapping[str, Verdict], svg: str, events: str,
          alerts: Sequence[str] = ()) -> str:
    impact = ("<h2 style=\"font-size:15px\">Impact windows: one root alert per layer, each after the one before</h2><ol>"
              + "".join(f"<li>{_esc(line.split('. ', 1)[1])}</li>" for line in alerts) + "</ol>"
              + "<p>Blast radius lanes: green working, orange degraded, red broken (blast_radius.py says what each "
                "colour means for each node).</p>") if alerts else ""
    valid = overall(verdicts)
    rows = "".join(
        f'<tr class="{"bad" if v.valid is False else "unknown" if v.valid == UNKNOWN else "good"}">'
        f'<td>{_esc(v.title)}</td><td><b>{_esc(SYMBOL[v.valid])}</b></td>'
        f'<td>{"<br>".join(_esc(e) for e in v.evidence)}</td></tr>' for v in verdicts.values())
    schedule = run.get("schedule") or {}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(run.get("started") or 0)))
    title = (f"reproduce-outage: scenario {run.get('scenario')}, mode {run.get('mode')}"
             + (f", lease manager {run.get('dwfm_mode')}" if run.get("dwfm_mode") else "")
             + (f", load balancer {(run.get('nlb') or {}).get('mode')}, Network Manager "
                f"{(run.get('netmgr') or {}).get('mode')}" if run.get("nlb") else "")
             if run.get("scenario") else f"chaos run: mode {run.get('mode')}, seed {run.get('seed')}")
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
{impact}
<h2 style="font-size:15px">Verdicts</h2>
<table>{rows}</table>
<h2 style="font-size:15px">Events</h2>
{events}
</body></html>
"""
