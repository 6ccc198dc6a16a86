"""The cascade, act 2 (issue 24), on the test stack: a real HAProxy carries the clients' traffic, and the
load balancer's control logic decides which targets are in service (NLB_MODE=legacy|safe).

Network Manager is given a backlog (droplets whose state must be pushed again, POST /propagations) and
then slots' instances are replaced (the test stack works 10 items a second, stack.py) (POST /slots/sNN/replace): each new instance waits behind the backlog
without networking. What the control then does is read from its events and figures in the lab's Redis,
and what the clients got from HAProxy's own answers.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dnsrace_lab.harness.checker import Bounds
from dnsrace_lab.harness.checker.network import answering_removals

from .stack import Stack, wait_for

pytestmark = pytest.mark.integration

NETMGR = "http://netmgr:8092"
BOUNDS = Bounds()   # the checker's (8): networked this long before a removal means answering
# Requests through HAProxy from inside the clients' container: which target served each, or the error.
THROUGH_HAPROXY = r"""
import json, sys, urllib.request, urllib.error
served = {}
for _ in range(int(sys.argv[1])):
    try:
        with urllib.request.urlopen("http://nlb:80/", timeout=3) as response:
            key = response.read().decode().split()[0]
    except urllib.error.HTTPError as error:
        key = f"http_{error.code}"
    except OSError as error:
        key = type(error).__name__
    served[key] = served.get(key, 0) + 1
print(json.dumps(served))
"""
CALL = r"""
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=10) as response:
    print(response.read().decode())
"""
HAPROXY_STATE = "exec 3<>/dev/tcp/127.0.0.1/9999 && echo 'show servers state targets' >&3 && cat <&3"


def in_clients(stack: Stack, script: str, *args: str) -> str:
    result = stack.compose("exec", "-T", "clients", "python3", "-c", script, *args, check=False, timeout_s=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def netmgr_post(stack: Stack, path: str, body: Any = None) -> dict[str, Any]:
    return json.loads(in_clients(stack, CALL, f"{NETMGR}{path}", json.dumps(body or {})))


def haproxy_maint(stack: Stack) -> set[str]:
    """The servers HAProxy itself holds in forced maintenance (its runtime API, not the control's word)."""
    result = stack.compose("exec", "-T", "nlb", "bash", "-c", HAPROXY_STATE, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[2:] if line.strip()]
    return {row[3] for row in rows if int(row[6]) & 0x01}


def figures(stack: Stack, kind: str, since: float) -> list[dict[str, Any]]:
    client = stack.redis()
    try:
        rows = client.xrevrange("dnsrace:figures", count=3000)
    finally:
        client.close()
    out = [json.loads(fields[b"event"]) for _id, fields in rows]
    return sorted((e for e in out if e["kind"] == kind and e["t"] >= since), key=lambda e: e["t"])


def events_since(stack: Stack, since: float, prefix: str) -> list[dict[str, Any]]:
    return [e for e in stack.events(4000) if e["t"] >= since and e["kind"].startswith(prefix)]


def use_nlb(stack: Stack, nlb_mode: str, netmgr_mode: str) -> None:
    """Recreate netmgr and the control in these designs (a fresh fleet, every target in service)."""
    stack.nlb_mode, stack.netmgr_mode = nlb_mode, netmgr_mode
    since = time.time()
    stack.compose("up", "-d", "--force-recreate", "netmgr", "nlb-control")

    def ready() -> dict[str, Any] | None:
        line = next((w for w in reversed(figures(stack, "nlb_window", since)) if w["detail"]["mode"] == nlb_mode), None)
        return line if line is not None and line["detail"]["in_service"] == 12 and not haproxy_maint(stack) else None
    wait_for(f"the control ({nlb_mode}) has every target in service", ready, within_s=90, every_s=1.0)


def drained(stack: Stack, since: float) -> bool:
    last = (figures(stack, "netmgr_window", since) or [None])[-1]
    return last is not None and last["detail"]["queue"] == 0 and last["detail"]["without_network"] == 0


def test_haproxy_routes_only_to_the_targets_the_control_keeps_in_service(stack: Stack) -> None:
    # Network Manager safe: while it is behind, launches wait, so no slot but s03 goes dark meanwhile.
    use_nlb(stack, "legacy", "safe")
    # Round robin is shared with the clients' own 20 requests a second, so a run of requests does not
    # visit the servers in turn: 120 of them miss a given server with a chance of (11/12)^120, 3e-5.
    before = json.loads(in_clients(stack, THROUGH_HAPROXY, "120"))
    assert sum(v for k, v in before.items() if k.startswith("s")) == 120 and len(before) == 12, before
    since = time.time()
    netmgr_post(stack, "/propagations", {"droplets": list(range(150))})       # 15 s of work at 10 a second
    placed = netmgr_post(stack, "/slots/s03/replace")
    assert placed["slot"] == "s03"
    removed = wait_for("the control takes s03 out", lambda: next(
        (e for e in events_since(stack, since, "nlb_target_removed") if e["detail"]["target"] == "s03"), None),
        within_s=15, every_s=0.5)
    assert removed["detail"]["instance"] == placed["instance"] and removed["detail"]["why"] == "unhealthy"
    assert "s03" in haproxy_maint(stack)                                        # HAProxy holds it out
    during = json.loads(in_clients(stack, THROUGH_HAPROXY, "60"))
    assert "s03" not in during and sum(v for k, v in during.items() if k.startswith("s")) == 60, during
    restored = wait_for("s03 back once its networking is worked", lambda: next(
        (e for e in events_since(stack, since, "nlb_target_restored") if e["detail"]["target"] == "s03"), None),
        within_s=60, every_s=1.0)
    assert restored["detail"]["networked"] is True
    wait_for("HAProxy has s03 back", lambda: "s03" not in haproxy_maint(stack) or None, within_s=10)
    assert "s03" in json.loads(in_clients(stack, THROUGH_HAPROXY, "120"))


@pytest.mark.parametrize("nlb_mode", ["legacy", "safe"])
def test_a_propagation_backlog_takes_healthy_capacity_away_in_legacy_and_never_below_the_floor_in_safe(
        stack: Stack, nlb_mode: str) -> None:
    use_nlb(stack, nlb_mode, "legacy")          # Network Manager without admission in both: the NLB alone decides
    since = time.time()
    netmgr_post(stack, "/propagations", {"droplets": list(range(150))})       # 30 s: 10 worked, 5 launched a second
    for target in ("s01", "s04", "s02", "s05", "s03", "s06"):                  # two of each AZ's four
        netmgr_post(stack, f"/slots/{target}/replace")
    wait_for("the backlog worked and every slot networked", lambda: drained(stack, since) or None,
             within_s=90, every_s=2.0)
    def all_back() -> dict[str, Any] | None:
        last = (figures(stack, "nlb_window", since) or [None])[-1]
        return last if last is not None and last["detail"]["in_service"] == 12 and not last["detail"]["unhealthy"] else None
    wait_for("every target back in service", all_back, within_s=30, every_s=1.0)
    removed = events_since(stack, since, "nlb_target_removed")
    healthy_removed = [e["detail"]["target"] for e in answering_removals(removed, BOUNDS.answering_grace_s)]
    windows = figures(stack, "nlb_window", since)
    lowest = min(w["detail"]["in_service"] for w in windows)
    clients = figures(stack, "client_window", since)
    errors = sum(w["detail"]["errors"] for w in clients)
    if nlb_mode == "legacy":
        # Half of every AZ unanswering: every AZ failed over, answering targets with them, clients refused.
        assert len(healthy_removed) >= 3, removed
        assert any(e["kind"] == "nlb_az_failover" and e["detail"]["azs"] for e in events_since(stack, since, "nlb_az"))
        assert lowest < 6 and errors > 0, (lowest, errors)
    else:
        assert healthy_removed == [], removed
        assert lowest >= 6, lowest                                            # the floor: half the targets
        assert not events_since(stack, since, "nlb_az_failover")
