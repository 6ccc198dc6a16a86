"""Every error dns-admin puts on the wire, in one tree, each one rebuildable by a client.

`.code` is the class name and travels as `{"error": code, "message": ..., "change_index": ...}` with
the class's HTTP status; error_from_json turns that back into the same class, so a client can
`except RecordSetMismatch` or `except Busy` whatever the server that raised it.

    DnsAdminError                    500  .code .http_status .message .change_index; to_json()
     ├── InvalidInput                400  malformed JSON, bad name/address/weight/ttl, unknown key,
     │                                    too many changes, ...
     ├── NotFound                    404  no such page, route or file
     ├── MethodNotAllowed            405  a route asked with a method it does not take
     ├── HttpError                        any other refusal of aiohttp's router (its own status)
     ├── InternalError               500  a bug in dns-admin: the handler raised something unexpected
     ├── RecordSetNotFound           404  GET of a record set that does not exist
     ├── ChangeConflict              409  the batch is well-formed but does not fit the current zone
     │    ├── RecordSetExists             CREATE of a name+type that exists
     │    ├── RecordSetMissing            DELETE of a name+type that does not exist
     │    ├── RecordSetMismatch           DELETE whose value is not exactly the current value
     │    ├── AliasTargetMissing          CREATE/UPSERT of an ALIAS whose target is not an A record
     │    │                               set after the earlier changes of the same batch (missing,
     │    │                               or itself an ALIAS: aliases to aliases are not supported)
     │    ├── AliasChain                  CREATE/UPSERT of an ALIAS at a name another ALIAS points at
     │    │                               (the other way to make a chain: delete the target, alias it)
     │    ├── NameConflict                an A and an ALIAS record set at the same name
     │    └── ZoneFull                    the batch would grow the zone past its record-set limit
     ├── RepairRefused               409  the console's repair, refused; nothing was changed
     │    ├── NothingToRepair             the endpoint answers: there is nothing to repair
     │    ├── NoPlanToRepairWith          no plan record set exists to point the endpoint at
     │    └── PlanMoved                   the plan the operator confirmed is gone (an older one)
     ├── AuthRefused                      a change refused before anything was read or changed
     │    ├── Unauthorized           401  no bearer token
     │    ├── Forbidden              403  a wrong bearer token
     │    └── CrossSiteRequest       403  another site's page (its Origin) asked for the change
     ├── Busy                        503  the batches before this one held the zone too long, or too
     │                                    many pages follow the console; nothing was changed
     ├── NotServing                  503  dns-admin is starting or stopping; nothing was changed
     ├── StoreTimeout                503  the store did not answer in time: the batch MAY be committed
     ├── ZoneFileWriteFailed         500  committed, but the zone file could not be written
     └── UnexpectedResponse               (client side) an answer that is no dns-admin error body: a
                                          proxy's error page, not JSON, ...; keeps its HTTP status

`change_index` is the 0-based index into `ChangeBatch.changes` of the change that failed (None when
the failure is not about one change). Messages start with `change <index>: ` in that case.
"""

from __future__ import annotations

from typing import Any, Mapping, cast

__all__ = [
    "AliasChain", "AliasTargetMissing", "AuthRefused", "Busy", "ChangeConflict", "CrossSiteRequest", "DnsAdminError",
    "Forbidden", "HttpError", "InternalError", "InvalidInput", "MethodNotAllowed", "NameConflict", "NoPlanToRepairWith", "NotFound", "NotServing", "NothingToRepair",
    "PlanMoved", "RecordSetExists", "RecordSetMismatch", "RecordSetMissing", "RecordSetNotFound", "RepairRefused",
    "StoreTimeout", "Unauthorized", "UnexpectedResponse", "ZoneFileWriteFailed", "ZoneFull", "error_from_json",
]

class DnsAdminError(Exception):
    """Any failure reported by the dns-admin API. Subclasses fix `http_status`; `code` is the class name."""

    http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        change_index: int | None = None,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.change_index = change_index
        # `code` and `http_status` are only overridden when a client rebuilds an error it does not
        # know (error_from_json), so the wire value is kept instead of being replaced by ours.
        self.code = code if code is not None else type(self).__name__
        if http_status is not None:
            self.http_status = http_status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "change_index": self.change_index}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, change_index={self.change_index!r})"


class InvalidInput(DnsAdminError):
    """The request can never succeed as written: fix it rather than retry it."""

    http_status = 400


class RecordSetNotFound(DnsAdminError):
    """A read named a record set that does not exist (inside a batch, see RecordSetMissing)."""

    http_status = 404


class ChangeConflict(DnsAdminError):
    """The batch is well-formed but does not fit the zone as it is now; nothing was changed."""

    http_status = 409


class RecordSetExists(ChangeConflict):
    pass


class RecordSetMissing(ChangeConflict):
    pass


class RecordSetMismatch(ChangeConflict):
    pass


class AliasTargetMissing(ChangeConflict):
    pass


class AliasChain(ChangeConflict):
    pass


class NameConflict(ChangeConflict):
    pass


class ZoneFull(ChangeConflict):
    pass


class NotFound(DnsAdminError):
    """No such page or file."""

    http_status = 404


class RepairRefused(DnsAdminError):
    """The console's repair was refused; nothing was changed."""

    http_status = 409


class NothingToRepair(RepairRefused):
    pass


class NoPlanToRepairWith(RepairRefused):
    pass


class PlanMoved(RepairRefused):
    pass


class AuthRefused(DnsAdminError):
    """A mutating request refused before anything was read or changed."""


class Unauthorized(AuthRefused):
    http_status = 401


class Forbidden(AuthRefused):
    http_status = 403


class CrossSiteRequest(AuthRefused):
    http_status = 403


class Busy(DnsAdminError):
    """dns-admin cannot take this request now (the zone held too long, too many followers); nothing changed."""

    http_status = 503


class NotServing(DnsAdminError):
    """dns-admin is starting or shutting down; nothing was changed."""

    http_status = 503


class StoreTimeout(DnsAdminError):
    """The store did not answer in time: the batch may or may not be committed (info)."""

    http_status = 503


class ZoneFileWriteFailed(DnsAdminError):
    """The batch is committed, but the zone file could not be written: CoreDNS still serves the old one."""

    http_status = 500


class MethodNotAllowed(DnsAdminError):
    http_status = 405


class HttpError(DnsAdminError):
    """A refusal of the HTTP router with no code of its own; keeps the status it was sent with."""


class InternalError(DnsAdminError):
    http_status = 500


class UnexpectedResponse(DnsAdminError):
    """An answer that is not a dns-admin error body (a proxy's page, not JSON): keeps the HTTP status."""


_ERROR_CLASSES: dict[str, type[DnsAdminError]] = {
    cls.__name__: cls
    for cls in (
        DnsAdminError,
        InvalidInput,
        RecordSetNotFound,
        ChangeConflict,
        RecordSetExists,
        RecordSetMissing,
        RecordSetMismatch,
        AliasTargetMissing,
        AliasChain,
        NameConflict,
        ZoneFull,
        NotFound,
        RepairRefused,
        NothingToRepair,
        NoPlanToRepairWith,
        PlanMoved,
        AuthRefused,
        Unauthorized,
        Forbidden,
        CrossSiteRequest,
        Busy,
        NotServing,
        StoreTimeout,
        ZoneFileWriteFailed,
        MethodNotAllowed,
        HttpError,
        InternalError,
        UnexpectedResponse,
    )
}


def error_from_json(status: int, body: object) -> DnsAdminError:
    """Rebuild the error a dns-admin response describes, so a client can `except RecordSetMismatch`.

    An unknown code (a newer server, or a proxy's error page) becomes a plain DnsAdminError that
    keeps the code and the HTTP status it arrived with.
    """
    if not isinstance(body, Mapping) or not isinstance(body.get("error"), str):
        return UnexpectedResponse(f"HTTP {status} without a dns-admin error body: {str(body)[:200]!r}",
                                  http_status=status)
    code = cast(str, body["error"])
    message = body.get("message")
    change_index = body.get("change_index")
    text = message if isinstance(message, str) else f"HTTP {status}: {code}"
    index = change_index if type(change_index) is int else None
    cls = _ERROR_CLASSES.get(code)
    if cls is None:
        return DnsAdminError(text, change_index=index, code=code, http_status=status)
    return cls(text, change_index=index, http_status=status)
