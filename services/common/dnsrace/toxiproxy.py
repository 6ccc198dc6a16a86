"""A small async client for Toxiproxy's HTTP API (the PyPI one is synchronous and unmaintained).

Faults are named pairs, as Jepsen names them: `add_toxic` / `remove_toxic`, `disable` / `enable`.
Every call has a timeout: removing a toxic has been known to hang Toxiproxy's API.

Errors:
    ToxiproxyError(Exception)   .status (HTTP status, 0 when there was no answer), .message
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from .deadline import within
from .http_session import NO_CLIENT_DEADLINE, SessionOwner

__all__ = ["Proxy", "Toxic", "ToxiproxyClient", "ToxiproxyError"]

Stream = Literal["upstream", "downstream"]


class ToxiproxyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"toxiproxy: {message} (HTTP {status})" if status else f"toxiproxy: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Toxic:
    name: str
    type: str
    stream: Stream
    toxicity: float
    attributes: dict[str, Any]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Toxic:
        return cls(obj["name"], obj["type"], obj["stream"], float(obj.get("toxicity", 1.0)),
                   dict(obj.get("attributes") or {}))


@dataclass(frozen=True)
class Proxy:
    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...]

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Proxy:
        return cls(obj["name"], obj["listen"], obj["upstream"], bool(obj["enabled"]),
                   tuple(Toxic.from_json(t) for t in obj.get("toxics") or []))


class ToxiproxyClient(SessionOwner):
    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s

    def _new_session(self) -> aiohttp.ClientSession:
        # Toxiproxy refuses browsers (User-Agent "Mozilla/..."), so say who we are.
        return aiohttp.ClientSession(headers={"User-Agent": "dnsrace-toxiproxy-client"}, timeout=NO_CLIENT_DEADLINE)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self._base_url}{path}"
        try:
            # The call's one deadline, in a task of its own (dnsrace.deadline says why).
            return await within(self._timeout_s, self._exchange(method, path, url, body))
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ToxiproxyError(0, f"{method} {url}: no answer ({type(error).__name__}: {error})") from error

    async def _exchange(self, method: str, path: str, url: str, body: dict[str, Any] | None) -> Any:
        async with self._http().request(method, url, json=body) as response:
            text = await response.text()
            if response.status >= 400:
                raise ToxiproxyError(response.status, f"{method} {path}: {text.strip()[:300]}")
            if response.status == 204 or not text:
                return None
            return await response.json(content_type=None)

    async def _version_text(self) -> str:
        async with self._http().get(f"{self._base_url}/version") as response:
            return (await response.text()).strip()

    async def version(self) -> str:
        try:
            return await within(self._timeout_s, self._version_text())
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise ToxiproxyError(0, f"GET /version: no answer ({error})") from error

    async def proxies(self) -> dict[str, Proxy]:
        payload = await self._call("GET", "/proxies")
        return {name: Proxy.from_json(obj) for name, obj in payload.items()}

    async def proxy(self, name: str) -> Proxy:
        return Proxy.from_json(await self._call("GET", f"/proxies/{name}"))

    async def create_proxy(self, name: str, *, listen: str, upstream: str) -> Proxy:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        return Proxy.from_json(await self._call("POST", "/proxies", body))

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{name}")

    async def enable(self, name: str) -> Proxy:
        return Proxy.from_json(await self._call("POST", f"/proxies/{name}", {"enabled": True}))

    async def disable(self, name: str) -> Proxy:
        """Cut the proxy: open connections are closed and new ones refused, until enable()."""
        return Proxy.from_json(await self._call("POST", f"/proxies/{name}", {"enabled": False}))

    async def add_toxic(self, proxy: str, *, name: str, type: str, stream: Stream = "downstream",
                        toxicity: float = 1.0, **attributes: Any) -> Toxic:
        if not 0.0 <= toxicity <= 1.0:
            raise ValueError("toxicity is a probability in 0..1")
        body = {"name": name, "type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        return Toxic.from_json(await self._call("POST", f"/proxies/{proxy}/toxics", body))

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic: the end of a fault window."""
        await self._call("POST", "/reset")
