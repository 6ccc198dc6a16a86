"""An async client for dns-admin's HTTP API (the Route 53 stand-in), with a timeout on every call.

Every call ends as one of three outcomes, Jepsen-style:
    ok      the answer came back (a value, or a ChangeResult)
    fail    dns-admin said no: a DnsAdminError subclass from records.py (nothing changed)
    info    no answer: DnsAdminUnavailable — a timeout or dropped connection; a batch sent
            this way MAY have been applied, and whoever reads the history must assume so
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from .deadline import within
from .http_session import NO_CLIENT_DEADLINE, SessionOwner
from .records import ChangeBatch, DnsAdminError, RecordSet, error_from_json, quoted

__all__ = ["ChangeResult", "DnsAdminClient", "DnsAdminUnavailable"]


class DnsAdminUnavailable(Exception):
    """No answer from dns-admin (timeout, refused or dropped connection): the outcome is unknown."""


@dataclass(frozen=True)
class ChangeResult:
    change_id: str
    serial: int


class DnsAdminClient(SessionOwner):
    def __init__(self, base_url: str, *, zone: str, timeout_s: float, client: str, token: str | None = None) -> None:
        self._base_url = base_url.rstrip("/")
        self._zone = zone
        self._timeout_s = timeout_s
        self._client = client
        # dns-admin's bearer token (DNSRACE_ADMIN_TOKEN): sent with the calls that change something, never
        # with reads, which need none. Without it every change is refused (401 Unauthorized).
        self._token = token

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=NO_CLIENT_DEADLINE)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        url = f"{self._base_url}{path}"
        try:
            # The call's one deadline, in a task of its own (dnsrace.deadline says why).
            return await within(self._timeout_s, self._exchange(method, url, body))
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DnsAdminUnavailable(f"{method} {url}: {type(error).__name__}: {error}") from error

    async def _exchange(self, method: str, url: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token and method != "GET" else None
        async with self._http().request(method, url, json=body, headers=headers) as response:
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                # A proxy's error page, say: quoted, so its newlines cannot reach an event raw.
                payload = {"error": "UnexpectedResponse",
                           "message": f"HTTP {response.status}, not JSON: {quoted(await response.text())}"}
            return response.status, payload

    def _raise_for(self, status: int, payload: Any) -> None:
        if status >= 400:
            raise error_from_json(status, payload)

    async def get_record_set(self, name: str, type_: str) -> RecordSet | None:
        status, payload = await self._call("GET", f"/v1/record-sets/{name}/{type_}")
        if status == 404 and isinstance(payload, dict) and payload.get("error") == "RecordSetNotFound":
            return None
        self._raise_for(status, payload)
        return RecordSet.from_json(payload, zone=self._zone)

    async def list_record_sets(self) -> list[RecordSet]:
        status, payload = await self._call("GET", "/v1/record-sets")
        self._raise_for(status, payload)
        return [RecordSet.from_json(obj, zone=self._zone) for obj in payload["record_sets"]]

    async def audit(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The newest `limit` audit rows (1..1000), oldest first: every batch received and its outcome."""
        status, payload = await self._call("GET", f"/v1/audit?limit={limit}")
        self._raise_for(status, payload)
        return list(payload["entries"])

    async def console_status(self) -> dict[str, Any]:
        """GET /api/status: the console's status (now, the one root alert, the enactors)."""
        status, payload = await self._call("GET", "/api/status")
        self._raise_for(status, payload)
        return dict(payload)

    async def repair(self, expect_target: str | None = None) -> dict[str, Any]:
        """POST /api/repair: the console's repair (endpoint -> the newest existing plan, rollback cleared),
        refused if the newest existing plan is not `expect_target` (when given). Its answer, with the
        batch's audit row; DnsAdminError when refused (401/403: the token; 409: nothing to repair)."""
        status, payload = await self._call("POST", "/api/repair", {"expect_target": expect_target} if expect_target else {})
        self._raise_for(status, payload)
        return dict(payload)

    async def submit(self, batch: ChangeBatch) -> ChangeResult:
        """Apply one change batch, all or nothing. Raises DnsAdminError (fail) or DnsAdminUnavailable (info)."""
        body = batch.to_json()
        # A batch that names no sender is sent as this client's (to_json always has the key, empty).
        body["client"] = body["client"] or self._client
        status, payload = await self._call("POST", "/v1/changes", body)
        self._raise_for(status, payload)
        return ChangeResult(str(payload["change_id"]), int(payload["serial"]))


def describe_error(error: BaseException) -> str:
    if isinstance(error, DnsAdminError):
        return f"{error.code}: {error.message}"
    return f"{type(error).__name__}: {error}"
