"""timeline.html's blast radius (pure): the dependency graph, one lane per node, each second coloured by
the node's state (dnsrace.blast_radius says how each is read), drawn when a history holds the load
balancer's figures (the cascade's act 2). The impact windows (harness/impact.py) are listed under it,
each linked to the one before: one root alert per layer, never one per symptom.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from dnsrace.blast_radius import FIGURES_OF, NODES, node_state

__all__ = ["NODES", "has_figures", "panel_height", "states", "blast_radius_panel"]

GREEN, ORANGE, RED = "#2e9d4f", "#f0a030", "#d7263d"
COLOUR = {"ok": GREEN, "degraded": ORANGE, "broken": RED}
LANE_H = 16


def has_figures(body: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("source") == "figures" and r.get("kind") == "nlb_window" for r in body)


def panel_height() -> int:
    return LANE_H * len(NODES) + 8


def _lines(body: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted(({**(r.get("detail") or {}), "t": float(r["t"])} for r in body
                   if r.get("source") == "figures" and r.get("kind") == kind), key=lambda line: line["t"])


def _dns(body: Sequence[dict[str, Any]]) -> list[tuple[float, str]]:
    """One state a second from the resolver's probes: red if any answer in that second was empty."""
    seconds: dict[int, str] = {}
    for r in body:
        if r.get("source") == "client" and r.get("process") == "resolver" and r.get("type") in ("ok", "fail"):
            second = int(float(r["t"]))
            if r["type"] == "fail" or second not in seconds:
                seconds[second] = RED if r["type"] == "fail" else GREEN
    return [(float(s) + 1.0, color) for s, color in sorted(seconds.items())]


def states(body: Sequence[dict[str, Any]]) -> dict[str, list[tuple[float, str]]]:
    """Each node's colour per second, as (end of the second, colour)."""
    out = {"DNS": _dns(body)}
    for node in NODES[1:]:
        out[node] = [(line["t"], COLOUR[node_state(node, line)]) for line in _lines(body, FIGURES_OF[node])]
    return out


def blast_radius_panel(body: Sequence[dict[str, Any]], x: Callable[[float], float], left: float, top: float,
                       h: float) -> list[str]:
    out = []
    for k, (node, seconds) in enumerate(states(body).items()):
        y = top + 4 + k * LANE_H
        out.append(f'<text x="{left - 6}" y="{y + LANE_H - 5}" text-anchor="end" fill="#333">'
                   f'{html.escape(node)}{" →" if k < len(NODES) - 1 else ""}</text>')
        for end, color in seconds:
            x0 = x(end - 1.0)
            width = max(x(end) - x0, 0.8)
            out.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{width:.1f}" height="{LANE_H - 3}" fill="{color}"/>')
    return out
