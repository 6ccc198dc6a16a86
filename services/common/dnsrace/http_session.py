"""One aiohttp session per client object: opened on first use, closed by close() or `async with`."""

from __future__ import annotations

from typing import Self

import aiohttp

__all__ = ["NO_CLIENT_DEADLINE", "SessionOwner"]

# aiohttp's own deadlines switched off (its default is 5 minutes in total): each call is bounded by
# dnsrace.deadline.within instead. aiohttp 3.8 enforces its total timeout by cancelling the caller's
# task and never withdraws the request, which breaks every later asyncio.timeout in that task; and two
# deadlines on one call race each other (see dnsrace.deadline).
NO_CLIENT_DEADLINE = aiohttp.ClientTimeout(total=None, connect=None, sock_read=None, sock_connect=None)


class SessionOwner:
    _session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        """The session this client wants (timeouts, headers); called once, on first use."""
        raise NotImplementedError

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = self._new_session()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
