"""bench/dwfm_sweep.py STORE_DIR — the sweep's table and plot (sweep.svg) from its runs' folders.

Each line of STORE_DIR/runs.txt is "N FOLDER" (bench/dwfm_sweep.sh writes it). From each run: the lease
manager's parameters (the run line), its measured operation time (dwfm's figures), hence μ = c / op and
N/(μτ), and the time from DNS answering again to 95 % leased (the checker's (7), from results.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def one_run(n: int, folder: Path) -> dict[str, Any]:
    run = json.loads((folder / "history.jsonl").read_text().splitlines()[0])
    results = json.loads((folder / "results.json").read_text())
    recover = results["invariants"]["leases-recover"]["measures"]
    params = run["dwfm"]
    op_ms = float((results.get("leases_at_dns_back") or {}).get("mean_op_ms") or params["expected_op_s"] * 1000)
    mu = params["workers"] / (op_ms / 1000)
    return {"n": n, "op_ms": op_ms, "mu": mu, "x": n / (mu * params["timeout_s"]), "recovery_s": recover.get("recovery_s"),
            "observed_s": recover.get("observed_after_dns_back_s"), "queue_last": recover.get("queue_last"),
            "queue_back": recover.get("queue_at_dns_back")}


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| N | op (ms) | μ (/s) | N/(μτ) | 95 % leased after DNS returned |", "|---|---|---|---|---|"]
    for r in rows:
        after = (f"{r['recovery_s']:.0f} s" if r["recovery_s"] is not None
                 else f"not within {r['observed_s']:.0f} s (queue {r['queue_back']:,} → {r['queue_last']:,})")
        out.append(f"| {r['n']} | {r['op_ms']:.0f} | {r['mu']:.0f} | {r['x']:.2f} | {after} |")
    return "\n".join(out)


def plot(rows: list[dict[str, Any]]) -> str:
    w, h, left, bottom = 640, 360, 60, 40
    x_max = max(max(r["x"] for r in rows) * 1.1, 1.5)
    y_max = max([r["recovery_s"] for r in rows if r["recovery_s"] is not None] + [r["observed_s"] or 0 for r in rows]) * 1.1

    def px(x: float) -> float:
        return left + x / x_max * (w - left - 20)

    def py(y: float) -> float:
        return h - bottom - y / y_max * (h - bottom - 20)

    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="#fff"/>',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - 20}" y2="{h - bottom}" stroke="#333"/>',
           f'<line x1="{left}" y1="20" x2="{left}" y2="{h - bottom}" stroke="#333"/>',
           f'<line x1="{px(1):.1f}" y1="20" x2="{px(1):.1f}" y2="{h - bottom}" stroke="#d7263d" stroke-dasharray="5 4"/>',
           f'<text x="{px(1) + 4:.1f}" y="32" fill="#d7263d">predicted threshold N = μτ</text>',
           f'<text x="{(w + left) / 2:.0f}" y="{h - 8}" text-anchor="middle">N / (μτ)</text>',
           f'<text x="14" y="{h / 2:.0f}" transform="rotate(-90 14 {h / 2:.0f})" text-anchor="middle">'
           'seconds from DNS back to 95 % leased</text>']
    for seconds in (0, 60, 120, 180, 240):
        if seconds <= y_max:
            svg.append(f'<text x="{left - 6}" y="{py(seconds) + 4:.1f}" text-anchor="end" fill="#555">{seconds}</text>')
    for r in rows:
        if r["recovery_s"] is not None:
            svg.append(f'<circle cx="{px(r["x"]):.1f}" cy="{py(r["recovery_s"]):.1f}" r="5" fill="#2e9d4f">'
                       f'<title>N={r["n"]}: {r["recovery_s"]:.0f} s</title></circle>')
        else:
            y = py(r["observed_s"] or y_max)
            svg.append(f'<path d="M{px(r["x"]) - 5:.1f},{y:.1f} L{px(r["x"]) + 5:.1f},{y:.1f} L{px(r["x"]):.1f},{y - 9:.1f} Z" '
                       f'fill="#d7263d"><title>N={r["n"]}: not recovered in {r["observed_s"]} s</title></path>')
        svg.append(f'<text x="{px(r["x"]):.1f}" y="{h - bottom + 14}" text-anchor="middle" fill="#555">{r["x"]:.1f}</text>')
    svg.append(f'<text x="{w - 24}" y="44" text-anchor="end" fill="#555">▲ red: not recovered within the window</text>')
    svg.append("</svg>")
    return "\n".join(svg)


def main(store: str) -> int:
    folder = Path(store)
    rows = sorted((one_run(int(n), Path(path)) for n, path in
                   (line.split() for line in (folder / "runs.txt").read_text().splitlines() if line.strip())),
                  key=lambda r: r["x"])
    text = table(rows)
    (folder / "table.md").write_text(text + "\n")
    (folder / "sweep.svg").write_text(plot(rows))
    print(text)
    print(f"\nplot: {folder / 'sweep.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
