"""dnsrace.toxiproxy, the async client, against the real Toxiproxy of the stack."""

from __future__ import annotations

import time

import pytest
import redis

from dnsrace.toxiproxy import ToxiproxyClient, ToxiproxyError
from dnsrace_lab.stack.names import ENACTORS

from .stack import Stack

pytestmark = pytest.mark.integration

LATENCY_MS = 400


def ping_seconds(stack: Stack) -> float:
    client = redis.Redis(host="127.0.0.1", port=stack.ports["probe_redis"], socket_timeout=10, socket_connect_timeout=5)
    try:
        started = time.monotonic()
        assert client.ping()
        return time.monotonic() - started
    finally:
        client.close()


async def test_proxies_from_the_config_file_exist(stack: Stack) -> None:
    async with ToxiproxyClient(f"http://127.0.0.1:{stack.ports['toxiproxy']}") as toxiproxy:
        proxies = await toxiproxy.proxies()
        assert await toxiproxy.version()
    for enactor in ENACTORS:
        assert proxies[f"{enactor}-redis"].upstream == "redis:6379"
        assert proxies[f"{enactor}-dns-admin"].upstream == "dns-admin:8080"
        assert proxies[f"{enactor}-redis"].enabled


async def test_a_latency_toxic_slows_real_traffic_and_removing_it_restores(stack: Stack) -> None:
    async with ToxiproxyClient(f"http://127.0.0.1:{stack.ports['toxiproxy']}") as toxiproxy:
        toxic = await toxiproxy.add_toxic("probe-redis", name="slow", type="latency", stream="downstream",
                                          latency=LATENCY_MS, jitter=0)
        try:
            assert toxic.attributes["latency"] == LATENCY_MS
            assert [t.name for t in (await toxiproxy.proxy("probe-redis")).toxics] == ["slow"]
            # A lower bound only, which the toxic guarantees (it holds every reply LATENCY_MS); an upper
            # bound on a round trip would be a guess about the machine, and could fail on a busy one.
            assert ping_seconds(stack) >= LATENCY_MS / 1000
        finally:
            await toxiproxy.remove_toxic("probe-redis", "slow")
        assert (await toxiproxy.proxy("probe-redis")).toxics == ()
        assert ping_seconds(stack) >= 0  # answers again, through the same proxy, with no toxic in its way


async def test_disable_cuts_the_path_and_enable_restores_it(stack: Stack) -> None:
    async with ToxiproxyClient(f"http://127.0.0.1:{stack.ports['toxiproxy']}") as toxiproxy:
        await toxiproxy.disable("probe-redis")
        try:
            with pytest.raises(redis.ConnectionError):
                ping_seconds(stack)
        finally:
            await toxiproxy.enable("probe-redis")
        assert ping_seconds(stack) >= 0


async def test_errors_are_named(stack: Stack) -> None:
    async with ToxiproxyClient(f"http://127.0.0.1:{stack.ports['toxiproxy']}") as toxiproxy:
        with pytest.raises(ToxiproxyError) as error:
            await toxiproxy.proxy("no-such-proxy")
        assert error.value.status == 404
        with pytest.raises(ToxiproxyError) as error:
            await toxiproxy.add_toxic("probe-redis", name="bad", type="no-such-toxic")
        assert error.value.status == 400
    async with ToxiproxyClient("http://127.0.0.1:9", timeout_s=1) as nowhere:
        with pytest.raises(ToxiproxyError) as error:
            await nowhere.proxies()
        assert error.value.status == 0
