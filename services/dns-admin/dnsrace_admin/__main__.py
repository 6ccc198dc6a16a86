"""`python3 -m dnsrace_admin`: serve the zone until SIGTERM.

Start-up order matters: the zone file is rendered from the store BEFORE the HTTP port opens, so
CoreDNS never serves a zone older than what dns-admin would report; then, still before serving, a batch
committed by an earlier run whose `batch_accepted` event a crash lost is reported again (lost_events.py),
so the history holds it before any later batch. Shutdown stops accepting requests,
lets the batch in flight finish (bounded), then closes the store and the event sink.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from aiohttp import web

from dnsrace.deadline import within
from dnsrace.records import DnsAdminError

from .config import Config, ConfigError, load_config
from .console.now import Answer
from .console.observe import EventWindow, ask_coredns, read_figures, read_plans
from .console.routes import Console, add_console
from .console.status import History
from .engine import Engine
from .event_sink import EventSink, StdoutEventSink, log
from .http_api import make_app
from .lost_events import recover_lost_events
from .store import StoreError, ZoneStore

SINK_START_TIMEOUT_S = 10.0
SINK_CLOSE_TIMEOUT_S = 5.0
HTTP_SHUTDOWN_TIMEOUT_S = 5.0
HTTP_HOST = "0.0.0.0"  # inside the container; compose publishes it on 127.0.0.1 only


async def _open_sink(config: Config) -> Any:
    """The Redis event sink when configured and available, else JSON lines on stdout."""
    if config.redis_url is None:
        log("event_sink_stdout", reason="REDIS_URL is not set")
        return StdoutEventSink(service=config.service_name)
    try:
        from dnsrace.events import RedisEventSink  # written separately; may be missing in early builds
    except ImportError as error:
        log("event_sink_stdout", reason=f"dnsrace.events unavailable: {error}")
        return StdoutEventSink(service=config.service_name)
    sink = RedisEventSink(config.redis_url, service=config.service_name, stream=config.events_stream)
    await within(SINK_START_TIMEOUT_S, sink.start())
    return sink


async def serve(config: Config) -> None:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.zone_dir.mkdir(parents=True, exist_ok=True)
    store = ZoneStore(config.store_path, zone=config.zone)
    sink = await _open_sink(config)
    events: EventSink = sink
    engine = Engine(
        store,
        zone=config.zone,
        zone_file_path=config.zone_file_path,
        negative_ttl_s=config.negative_ttl_s,
        events=events,
        ns_address=config.ns_address,
        record_set_count_max=config.record_set_count_max,
    )
    app = make_app(engine, token=config.admin_token)
    console_redis = _console_redis(config)
    add_console(app, _console(config, engine, events, console_redis))
    runner = web.AppRunner(app, access_log=None)
    try:
        await engine.start()
        if console_redis is not None:
            await recover_lost_events(engine.audit, console_redis, stream=config.events_stream, zone=config.zone,
                                      service=config.service_name)
        await runner.setup()
        site = web.TCPSite(runner, HTTP_HOST, config.http_port, shutdown_timeout=HTTP_SHUTDOWN_TIMEOUT_S)
        await site.start()
        log("dns_admin_started", zone=config.zone, serial=engine.serial, port=config.http_port,
            durability=store.durability())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        await stop.wait()
        log("dns_admin_stopping", serial=engine.serial)
    finally:
        await runner.cleanup()
        await engine.close()
        if console_redis is not None:
            await console_redis.close()
        try:
            await within(SINK_CLOSE_TIMEOUT_S, sink.close())
        except Exception as error:
            log("event_sink_close_failed", error=repr(error))


def _console_redis(config: Config) -> Any:
    if config.redis_url is None:
        return None
    import redis.asyncio as aioredis
    return aioredis.from_url(config.redis_url, socket_timeout=2.0, socket_connect_timeout=2.0)


def _console(config: Config, engine: Engine, events: EventSink, redis: Any) -> Console:
    """The console's edges: the event stream (through its own Redis connection, not the sink's), CoreDNS's
    two listeners by their compose name, and the planner's plans."""
    window = EventWindow(redis, stream=config.events_stream, kept_max=config.console_events_max) if redis else None

    async def history() -> History:
        if window is None:
            return History([], kept_max=config.console_events_max, error="REDIS_URL is not set: no event history")
        return await window.refresh()

    async def ask(view: str) -> Answer:
        port = config.resolver_port if view == "resolver" else config.authoritative_port
        return await ask_coredns(config.resolver_host, port, config.endpoint, view=view)

    async def plans(generations: Any) -> tuple[int | None, dict[int, float]]:
        return await read_plans(redis, generations) if redis is not None else (None, {})

    async def figures() -> dict[str, Any]:
        return await read_figures(redis) if redis is not None else {}

    return Console(engine=engine, events=events, endpoint=config.endpoint, negative_ttl_s=config.negative_ttl_s,
                   history=history, ask=ask, plans=plans, figures=figures)


def main() -> int:
    try:
        config = load_config(os.environ)
    except ConfigError as error:
        print(f"dns-admin: bad setting: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except (StoreError, DnsAdminError) as error:  # DnsAdminError: StoreTimeout while loading the zone
        print(f"dns-admin: {error}", file=sys.stderr)
        return 1
    except (OSError, TimeoutError) as error:
        print(f"dns-admin: cannot start: {error!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
