"""The console's window onto the event stream (dnsrace_admin.console.observe), over a real Redis."""

from __future__ import annotations

import json

import redis.asyncio as aioredis

from dnsrace.events import Event
from dnsrace.records import Change
from dnsrace.zone_history import batches_from_events, event_changes
from dnsrace_admin.console.observe import EventWindow

from console_histories import EP, aliasing, plan

STREAM = "lab:events"


async def test_a_batch_written_before_the_changes_were_structured_is_counted_unreadable_not_replayed(
        redis_client: aioredis.Redis) -> None:
    # A stack upgraded in place keeps its stream: dns-admin's batches from before hold their changes as
    # text. They come first, so the window leaves them out (and says how many) and starts after them.
    old = Event(1.0, "dns-admin", "batch_accepted", None, None,
                {"change_id": "change-000001", "client": "enactor-a", "comment": "",
                 "changes": [f"UPSERT ALIAS {EP} -> {plan(1)}"]}, 1)
    new = Event(2.0, "dns-admin", "batch_accepted", None, None,
                {"change_id": "change-000002", "client": "enactor-b", "comment": "",
                 **event_changes([Change("UPSERT", aliasing(EP, 2))])}, 2)
    for event in (old, new):
        await redis_client.xadd(STREAM, {"seq": event.seq, "event": json.dumps(event.to_json())})
    history = await EventWindow(redis_client, stream=STREAM, kept_max=100).refresh()
    assert history.unreadable == 1 and history.error is None
    assert [batch.change_id for batch in batches_from_events(history.events)] == ["change-000002"]
