"""timeline.html's cascade panels, drawn when a history holds the lease manager's figures (pure).

    leases      the leased fraction (green, 0 to 100 %) and the queue's length (red, 0 to its maximum),
                one point a second (dwfm's lease_window lines)
    launches    each second's launches: ok (green), insufficient capacity (red), throttled (orange)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["PANELS", "has_figures", "launches_panel", "leases_panel"]

PANELS = (("leases (dwfm)", "leases", 120), ("launches", "launches", 60))


def has_figures(body: Sequence[dict[str, Any]]) -> bool:
    return any(r.get("source") == "figures" and r.get("kind") == "lease_window" for r in body)


def _lines(body: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted(({**(r.get("detail") or {}), "t": float(r["t"])} for r in body
                   if r.get("source") == "figures" and r.get("kind") == kind), key=lambda line: line["t"])


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if n == 0 else 'L'}{px:.1f},{py:.1f}" for n, (px, py) in enumerate(points))


def leases_panel(body: Sequence[dict[str, Any]], x: Callable[[float], float], left: float, top: float,
                 h: float) -> list[str]:
    lines = _lines(body, "lease_window")
    if not lines:
        return [f'<text x="{left + 6}" y="{top + 20}" fill="#555">no lease figures in the history</text>']
    queue_max = max(max(int(line.get("queue") or 0) for line in lines), 1)

    def y(fraction: float) -> float:
        return top + h - 4 - fraction * (h - 8)

    leased = _path([(x(line["t"]), y(float(line.get("leased_fraction") or 0))) for line in lines])
    queue = _path([(x(line["t"]), y(int(line.get("queue") or 0) / queue_max)) for line in lines])
    return [f'<path d="{queue}" fill="none" stroke="#d7263d" stroke-width="1.5"/>',
            f'<path d="{leased}" fill="none" stroke="#2e9d4f" stroke-width="2"/>',
            f'<text x="{left - 6}" y="{y(1) + 4:.1f}" text-anchor="end" fill="#555">100 %</text>',
            f'<text x="{left - 6}" y="{y(0) + 4:.1f}" text-anchor="end" fill="#555">0</text>',
            f'<text x="{left + 6}" y="{top + 12}" fill="#2e9d4f">— droplets leased (0-100 %)</text>',
            f'<text x="{left + 200}" y="{top + 12}" fill="#d7263d">— queue length (0-{queue_max:,})</text>',
            f'<text x="{left + 380}" y="{top + 12}" fill="#555">{html.escape(str(lines[0].get("mode")))} design</text>']


def launches_panel(body: Sequence[dict[str, Any]], x: Callable[[float], float], left: float, top: float,
                   h: float) -> list[str]:
    lines = _lines(body, "launch_window")
    if not lines:
        return [f'<text x="{left + 6}" y="{top + 20}" fill="#555">no launch figures in the history</text>']
    most = max(max(sum(int(line.get(k) or 0) for k in ("ok", "insufficient_capacity", "throttled", "unanswered"))
                   for line in lines), 1)
    out = []
    for line in lines:
        x0, base = x(line["t"] - 1.0), top + h - 2
        width = max(x(line["t"]) - x0 - 0.5, 1.0)
        for key, color in (("ok", "#2e9d4f"), ("insufficient_capacity", "#d7263d"), ("throttled", "#f08a24")):
            size = int(line.get(key) or 0) / most * (h - 6)
            if size:
                base -= size
                out.append(f'<rect x="{x0:.1f}" y="{base:.1f}" width="{width:.1f}" height="{size:.1f}" fill="{color}"/>')
    out.append(f'<text x="{left + 6}" y="{top + 12}" fill="#555">per second: <tspan fill="#2e9d4f">ok</tspan> · '
               f'<tspan fill="#d7263d">insufficient capacity</tspan> · <tspan fill="#f08a24">throttled</tspan></text>')
    return out
