"""Network Manager's HTTP edge (dnsrace_ec2.netmgr) on aiohttp's test server: bad input is refused with
a clear error and queues nothing; an unknown slot is a 404; safe tells launches to wait when behind."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from dnsrace_ec2.netmgr import Netmgr
from dnsrace_ec2.netmgr_book import LEGACY, SAFE, Fleet, NetmgrPolicy


class Said:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, kind: str, *, plan: str | None = None, token: int | None = None, **detail: Any) -> None:
        self.events.append((kind, detail))


def netmgr(policy: NetmgrPolicy) -> tuple[Netmgr, Said]:
    said = Said()
    fleet = Fleet.start(12, ("a", "b", "c"), 120.0, 0.0, make_before_break=policy.make_before_break)
    return Netmgr(policy, fleet, rate_per_s=20, queue_limit=20, events=said, figures=Said()), said


async def test_malformed_propagations_are_refused_and_queue_nothing() -> None:
    manager, _ = netmgr(LEGACY)
    async with TestClient(TestServer(manager.app())) as client:
        for body in (b"not json", b"{}", b'{"droplets": "7"}', b'{"droplets": [1, -2]}', b'{"droplets": [true]}',
                     b'{"droplets": [1.5]}'):
            response = await client.post("/propagations", data=body)
            assert response.status == 400, body
            assert "droplet numbers" in (await response.json())["error"]
        assert len(manager.fleet.queue) == 0
        response = await client.post("/propagations", json={"droplets": [3, 17]})
        assert response.status == 202 and (await response.json()) == {"queued": 2, "queue": 2}


async def test_an_unknown_slot_is_a_404_naming_the_slots_and_a_known_one_is_replaced_and_said() -> None:
    manager, said = netmgr(LEGACY)
    async with TestClient(TestServer(manager.app())) as client:
        response = await client.post("/slots/s99/replace")
        assert response.status == 404 and "s12" in (await response.json())["slots"]
        response = await client.post("/slots/s03/replace")
        assert response.status == 201 and (await response.json())["slot"] == "s03"
        slots = {s["target"]: s for s in await (await client.get("/slots")).json()}
        assert slots["s03"]["networked"] is False
    assert said.events[-1][0] == "instance_placed" and said.events[-1][1]["why"] == "replace"


async def test_safe_tells_a_launch_to_wait_while_twenty_are_queued_and_legacy_never_does() -> None:
    for policy, expected in ((SAFE, 429), (LEGACY, 201)):
        manager, _ = netmgr(policy)
        manager.fleet.enqueue_droplets(list(range(20)), 0.0)
        async with TestClient(TestServer(manager.app())) as client:
            response = await client.post("/launches")
            assert response.status == expected, policy.name
            if expected == 429:
                assert (await response.json())["error"] == "wait" and manager.window["refused"] == 1
