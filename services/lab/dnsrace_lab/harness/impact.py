"""The cascade's impact windows, read from a recorded history (pure): the blast radius, one window per
layer, each linked to the one before it, as a responder would want the alerts: one root alert per
layer that broke, never one per symptom.

    DNS          the resolver answering empty (the client's probes)
    leases       the lease manager with <= 5 % of droplets leased, until >= 95 % again (`lease_window`)
    networking   slots of the load balancer running instances without networking (`netmgr_window`)
    capacity     answering targets out of service (`nlb_window`'s out_while_networked)
    clients      seconds with the clients' success rate below 95 % (`client_window`)

Each window is the span from the first second its condition held to the last one (gaps of less than
GAP_S seconds joined; a span counts once MIN_LINES of its lines hold: two lines in a row are a window,
one alone is not); `open` when the condition still held at the
history's end. The leases' window starts when they are lost after having been held (a reset lab starts
with none, and brings them in). AWS's own windows for
20 October 2025 (PDT, from the post-event summary) are INCIDENT, for the README's table beside the lab's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dnsrace_lab.harness.checker.verdict import empty_windows

GAP_S = 5.0
MIN_LINES = 2   # one line alone (a second's sample catching a replacement mid-propagation) is no window
LAPSED, RECOVERED, SERVED = 0.05, 0.95, 0.95

# (layer, what broke, AWS's window)
INCIDENT = (
    ("DNS", "DynamoDB's endpoint answered empty", "11:48 PM - 2:25 AM (clients until 2:40 AM)"),
    ("leases", "EC2's lease manager lost its leases, then stayed in congestive collapse", "11:48 PM - 5:28 AM"),
    ("networking", "new instances without networking (Network Manager's backlog)", "6:21 AM - 10:36 AM"),
    ("capacity", "NLB health checks flapping, AZ failover taking capacity out", "5:30 AM - 2:09 PM (failover off 9:36 AM)"),
    ("clients", "errors behind the load balancers", "5:30 AM - 2:09 PM"),
)
LAYERS = tuple(layer for layer, _what, _aws in INCIDENT)


@dataclass(frozen=True)
class Window:
    layer: str
    start: float
    end: float
    open: bool          # the condition still held at the history's end
    peak: str           # the worst second, in words

    @property
    def seconds(self) -> float:
        return self.end - self.start


def spans(lines: Sequence[dict[str, Any]], holds: Callable[[dict[str, Any]], bool]) -> list[tuple[float, float]]:
    """The runs of seconds where `holds`, gaps under GAP_S joined."""
    out: list[list[float]] = []
    for line in lines:
        if not holds(line):
            continue
        if out and line["t"] - out[-1][1] < GAP_S:
            out[-1][1] = line["t"]
        else:
            out.append([line["t"], line["t"]])
    return [(a, b) for a, b in out]


def _lines(figures: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return sorted(({**(row.get("detail") or {}), "t": float(row["t"])} for row in figures if row.get("kind") == kind),
                  key=lambda line: line["t"])


def _window(layer: str, lines: list[dict[str, Any]], holds: Callable[[dict[str, Any]], bool],
            peak: Callable[[list[dict[str, Any]]], str]) -> Window | None:
    # Counted in lines, not in seconds between them: the lines come 0.8-1.2 s apart, and 7 answering
    # targets out at +180.9, +181.9 and +182.7 s (a reproduce-rate run) were 1.8 s "long" and dropped.
    found = [(a, b) for a, b in spans(lines, holds)
             if sum(1 for line in lines if a <= line["t"] <= b and holds(line)) >= MIN_LINES]
    if not found:
        return None
    start, end = found[0][0], found[-1][1]
    inside = [line for line in lines if start <= line["t"] <= end and holds(line)]
    return Window(layer, start, end, holds(lines[-1]), peak(inside))


def leases_window(lines: list[dict[str, Any]]) -> Window | None:
    """From the first second <= 5 % leased after >= 95 % was, to the first >= 95 % after it."""
    held = next((line for line in lines if float(line.get("leased_fraction") or 0) >= RECOVERED), None)
    lapsed = next((line for line in lines if held is not None and line["t"] > held["t"]
                   and float(line.get("leased_fraction") or 0) <= LAPSED), None)
    if lapsed is None:
        return None
    back = next((line for line in lines if line["t"] > lapsed["t"] and float(line.get("leased_fraction") or 0) >= RECOVERED),
                None)
    inside = [line for line in lines if line["t"] >= lapsed["t"] and (back is None or line["t"] <= back["t"])]
    queue = max(int(line.get("queue") or 0) for line in inside)
    return Window("leases", lapsed["t"], back["t"] if back else lines[-1]["t"], back is None,
                  f"queue up to {queue:,}")


def impact_windows(history: Sequence[dict[str, Any]]) -> list[Window]:
    """Every layer's window found in the history, in the order of the dependency graph."""
    probes = [row for row in history if row.get("source") == "client"]
    figures = [row for row in history if row.get("source") == "figures"]
    found: list[Window | None] = []
    empty = empty_windows(probes, "resolver")
    found.append(Window("DNS", empty[0].start, empty[-1].end, not empty[-1].closed,
                        f"{sum(w.probes for w in empty)} empty answers") if empty else None)
    found.append(leases_window(_lines(figures, "lease_window")))
    net = _lines(figures, "netmgr_window")
    found.append(_window("networking", net, lambda line: int(line.get("without_network") or 0) > 0,
                         lambda inside: f"{max(int(x.get('without_network') or 0) for x in inside)} of "
                                        f"{inside[0].get('slots')} slots without networking, queue up to "
                                        f"{max(int(x.get('queue') or 0) for x in inside):,}"))
    nlb = _lines(figures, "nlb_window")
    found.append(_window("capacity", nlb, lambda line: int(line.get("out_while_networked") or 0) > 0,
                         lambda inside: f"{max(int(x.get('out_while_networked') or 0) for x in inside)} answering "
                                        f"targets out; {min(int(x.get('in_service') or 0) for x in inside)} of "
                                        f"{inside[0].get('targets')} in service at the lowest"))
    clients = [line for line in _lines(figures, "client_window") if line.get("success_rate") is not None]
    found.append(_window("clients", clients, lambda line: float(line["success_rate"]) < SERVED,
                         lambda inside: f"{min(float(x['success_rate']) for x in inside):.0%} served at the worst, "
                                        f"{sum(int(x.get('errors') or 0) for x in inside):,} errors"))
    return [w for w in found if w is not None]


def chain(windows: Sequence[Window], origin: float) -> list[str]:
    """One line per window, each linked to the one before it: the alerts a responder reads."""
    out = []
    for k, w in enumerate(windows):
        after = f" (from {windows[k - 1].layer})" if k else " (root)"
        end = "still open" if w.open else f"+{w.end - origin:.0f} s"
        out.append(f"{k + 1}. {w.layer}{after}: +{w.start - origin:.0f} s to {end}, {w.seconds:.0f} s; {w.peak}")
    return out
