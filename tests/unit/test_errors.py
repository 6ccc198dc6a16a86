"""dnsrace.errors: every code dns-admin puts on the wire is one class there, and a client rebuilds it."""

from __future__ import annotations

import dnsrace_admin.__main__  # noqa: F401  (imports every dns-admin module that could define an error)
import dnsrace_admin.console.routes  # noqa: F401
from dnsrace import errors
from dnsrace.errors import DnsAdminError, error_from_json
from dnsrace_admin import http_api


def every_subclass(cls: type[DnsAdminError]) -> set[type[DnsAdminError]]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | every_subclass(sub)
    return found


def test_every_error_class_anywhere_is_defined_in_the_one_module() -> None:
    strays = sorted(f"{cls.__module__}.{cls.__name__}" for cls in every_subclass(DnsAdminError)
                    if cls.__module__ != errors.__name__)
    assert strays == []


def test_every_error_class_comes_back_as_itself_from_the_wire() -> None:
    for cls in every_subclass(DnsAdminError) | {DnsAdminError}:
        original = cls("a message", change_index=2)
        rebuilt = error_from_json(original.http_status, original.to_json())
        assert type(rebuilt) is cls, cls.__name__
        assert (rebuilt.code, rebuilt.http_status, rebuilt.message, rebuilt.change_index) == (
            cls.__name__, original.http_status, "a message", 2)


def test_the_routers_codes_and_the_internal_error_are_classes_too() -> None:
    for code in (*http_api._ROUTE_ERROR_CODES.values(), "HttpError", "InternalError", "UnexpectedResponse"):
        assert type(error_from_json(500, {"error": code, "message": "m"})).__name__ == code
    # "not a dns-admin answer" has one code, whichever side noticed it
    assert error_from_json(502, "<html>").code == "UnexpectedResponse"
