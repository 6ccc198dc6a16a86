"""HAProxy's runtime API (the stats socket, `level admin`), over TCP: one command per connection.

    set server <backend>/<server> state ready|maint    a target into or out of service
    show servers state <backend>                       what HAProxy itself holds (admin state per server)

HAProxy answers a command with text and closes the connection; an empty answer means done, anything
else is an error and is raised with HAProxy's words.
"""

from __future__ import annotations

import asyncio

from dnsrace.deadline import within

# `show servers state`'s columns (HAProxy 2.6): srv_admin_state is a bit field; bit 0x01 is forced maintenance.
ADMIN_FORCED_MAINT = 0x01


class HaproxyRefused(Exception):
    """HAProxy refused a runtime command (its answer is the message)."""


class HaproxyRuntime:
    def __init__(self, host: str, port: int, timeout_s: float = 2.0) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s

    async def command(self, line: str) -> str:
        async def call() -> str:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(line.encode() + b"\n")
                await writer.drain()
                return (await reader.read()).decode(errors="replace")
            finally:
                writer.close()
        return await within(self.timeout_s, call())

    async def set_state(self, backend: str, server: str, state: str) -> None:
        if state not in ("ready", "maint", "drain"):
            raise ValueError(f"state must be ready, maint or drain, not {state!r}")
        answer = (await self.command(f"set server {backend}/{server} state {state}")).strip()
        if answer:
            raise HaproxyRefused(f"set server {backend}/{server} state {state}: {answer}")

    async def in_maintenance(self, backend: str) -> dict[str, bool]:
        """Each server of `backend`: True while HAProxy holds it in forced maintenance."""
        text = await self.command(f"show servers state {backend}")
        lines = [line for line in text.splitlines() if line and not line.startswith("#")]
        if not lines or not lines[0].strip().isdigit():
            raise HaproxyRefused(f"show servers state {backend}: {text.strip()[:200]}")
        out: dict[str, bool] = {}
        for line in lines[1:]:
            fields = line.split()
            # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
            if len(fields) > 6 and fields[1] == backend:
                out[fields[3]] = bool(int(fields[6]) & ADMIN_FORCED_MAINT)
        return out
