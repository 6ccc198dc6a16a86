"""python3 -m dnsrace_lab.stack.status — the responder's console in a terminal: GET /api/status on dns-admin.

What the resolver answers now, the endpoint's plan and rollback, the one root alert (its causal chain and
the follow-ons grouped under it) or the last one resolved, and the enactors. The page at
http://127.0.0.1:8080/ shows the same, live. `render` is pure; fetching is one GET with a timeout.
Exit status: 0 printed (an alert or none: the alert is in the text); 1 dns-admin did not answer.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from dnsrace_lab.stack.names import Ports

CALL_TIMEOUT_S = 5.0
CHAIN_SHOWN_MAX = 12


def _clock(t: float | None) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int((t % 1) * 1000):03d}" if t is not None else "-"


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "-"
    seconds = max(0.0, now - t)
    return f"{seconds:.1f} s ago" if seconds < 120 else f"{seconds / 60:.0f} min ago"


def _plan(plan: dict[str, Any] | None, now: float, missing: str = "DOES NOT EXIST") -> str:
    if plan is None:
        return "nothing"
    state = "exists" if plan["exists"] else missing
    created = f", published {_ago(plan.get('created'), now)}" if plan.get("created") else ""
    return f"{plan['plan']} ({state}{created})"


def render(status: dict[str, Any], admin_url: str) -> list[str]:
    now_t = float(status["t"])
    now = status["now"]
    modes = ", ".join(status.get("modes") or []) or "unknown"
    lines = [f"status: {status['endpoint']} · enactors in mode {modes} · {_clock(now_t)} UTC",
             f"  resolver       {now['resolver_summary']}  ({now['resolver']['server']})",
             f"  authoritative  {now['authoritative_summary']}  ({now['authoritative']['server']})",
             f"  endpoint    -> {_plan(now['endpoint'], now_t)}",
             f"  rollback    -> {_plan(now['rollback'], now_t) if now['rollback'] else 'no rollback record'}",
             f"  newest plan    {_plan(now['newest_published'], now_t, 'not in the zone yet')}; newest existing: "
             f"{now['newest_existing']['plan'] if now['newest_existing'] else 'none'}"]
    alert = status.get("alert")
    if alert is None:
        lines.append("no alert")
        resolved = status.get("resolved")
        if resolved:
            lines.append(f"  the last one, resolved: {resolved['summary']}; cleared by {resolved['cleared_by']} at "
                         f"{_clock(resolved['cleared_at'])} ({_ago(resolved['cleared_at'], now_t)})")
    else:
        since = f"since {_clock(alert['since'])} ({_ago(alert['since'], now_t)})" if alert.get("since") else "cause not kept"
        lines.append(f"{'RECOVERING' if alert['state'] == 'recovering' else 'ALERT'} ({alert['kind']}, {since}): "
                     f"{alert['title']}")
        lines.append(f"  {alert['summary']}")
        if alert["chain"]:
            lines.append("  how it happened:")
            chain = alert["chain"]
            shown = chain if len(chain) <= CHAIN_SHOWN_MAX else chain[:CHAIN_SHOWN_MAX - 1] + chain[-1:]
            for link in shown:
                seq = f"  #{link['seq']}" if link.get("seq") is not None else ""
                lines.append(f"    {_clock(link['t'])}  {link['role']:<8} {link['service']:<10} {link['sentence']}{seq}")
            if len(chain) > len(shown):
                lines.append(f"    ({len(chain) - len(shown)} more in the console's timeline)")
        if alert["follow_ons"]:
            lines.append("  grouped under it (follow-on symptoms, not raised on their own):")
            lines += [f"    - {group['what']}" for group in alert["follow_ons"]]
        lines.append(f"  way out: {alert['way_out']}")
    lines += _cascade_lines(status.get("cascade"))
    lines.append("enactors:")
    for row in status.get("enactors") or []:
        exception = row.get("last_exception")
        lines.append(f"  {row['service']:<10} {row.get('mode') or '?':<7} {row['state']:<14} "
                     f"seen {_ago(row.get('last_seen'), now_t):<12} last applied {row.get('last_applied') or '-':<12} "
                     f"crashes {row['crashes']}  restarts {row['restarts']}"
                     + (f"  {exception['exception']} at {exception['at']}" if exception else ""))
    history = status.get("history") or {}
    lines.append(f"history: {history.get('kept')} events kept (at most {history.get('kept_max')})"
                 + (f"; {history['error']}" if history.get("error") else "") + f" · the console: {admin_url}/")
    return lines


def _cascade_lines(cascade: dict[str, Any] | None) -> list[str]:
    """The second impact window (EC2's lease manager), its own root alert, with its cause."""
    if cascade is None:
        return []
    word = "RECOVERING" if cascade["state"] == "recovering" else "ALERT"
    lines = [f"{word} ({cascade['kind']}, {cascade['state']}): {cascade['title']}", f"  {cascade['summary']}",
             f"  cause: {cascade['cause']}"]
    launches = cascade.get("launches")
    if launches:
        lines.append(f"  launches in the last second: {launches.get('ok')} ok, {launches.get('insufficient_capacity')} "
                     f"insufficient capacity, {launches.get('throttled')} throttled")
    lines.append(f"  way out: {cascade['way_out']}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.stack.status", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print GET /api/status as it came")
    args = parser.parse_args()
    admin_url = f"http://127.0.0.1:{Ports.from_env().admin}"
    request = urllib.request.Request(f"{admin_url}/api/status", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=CALL_TIMEOUT_S) as response:
            status = json.loads(response.read())
    except (OSError, ValueError) as error:
        reason = error.read().decode(errors="replace")[:300] if isinstance(error, urllib.error.HTTPError) else error
        print(f"status: dns-admin did not answer {admin_url}/api/status: {reason}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        print("\n".join(render(status, admin_url)))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
