"""Who may change anything: a bearer token on every mutating request, and no request from another site.

    AuthRefused(DnsAdminError)       (the classes are in dnsrace.errors, with every wire code)
     ├── Unauthorized       401  no bearer token: no Authorization header, another scheme, an empty token
     ├── Forbidden          403  a bearer token that is not dns-admin's (compared in constant time)
     └── CrossSiteRequest   403  a browser's Origin that is not this server's own: another site's page
                                 (or a sandboxed frame's "null") asking for a change

Reads (GET, HEAD) need neither, and change nothing. The checks are pure; http_api.py applies them to
every request whose method is not a read, before its body is read. The token is what `make up` writes
into `.env` (DNSRACE_ADMIN_TOKEN); compose hands it to dns-admin, to the enactors and, through the same
file, to the lab's tools. A browser never holds it unless an operator pastes it into the console, which
keeps it in that tab's sessionStorage only: the page served to anyone carries no secret.
"""

from __future__ import annotations

import hmac
import re

from dnsrace.errors import AuthRefused, CrossSiteRequest, Forbidden, Unauthorized
from dnsrace.records import quoted

__all__ = ["AuthRefused", "CrossSiteRequest", "Forbidden", "Unauthorized", "check_bearer", "check_origin",
           "validate_token", "TOKEN_LENGTH_MIN"]

TOKEN_LENGTH_MIN = 16
TOKEN_LENGTH_MAX = 256
# RFC 6750's token68: what a Bearer token may be spelled with, so it can travel in a header as it is.
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_BEARER = re.compile(r"[Bb][Ee][Aa][Rr][Ee][Rr] +(\S*) *")


def validate_token(raw: str) -> str:
    """The configured token, or ValueError saying what is wrong with it (never quoting it)."""
    if not TOKEN_LENGTH_MIN <= len(raw) <= TOKEN_LENGTH_MAX:
        raise ValueError(f"must be {TOKEN_LENGTH_MIN}..{TOKEN_LENGTH_MAX} characters (it has {len(raw)}); "
                         "`make up` writes one into .env")
    if _TOKEN68.fullmatch(raw) is None:
        raise ValueError("may hold only A-Z a-z 0-9 . _ ~ + / - (and trailing =), as a bearer token must")
    return raw


def check_bearer(authorization: str | None, token: str) -> None:
    """Pass, or raise Unauthorized (no bearer token) or Forbidden (the wrong one)."""
    if not authorization:
        raise Unauthorized("this request changes state and needs a bearer token (Authorization: Bearer <token>; "
                           "the token is DNSRACE_ADMIN_TOKEN in .env)")
    match = _BEARER.fullmatch(authorization)
    if match is None or not match.group(1):
        raise Unauthorized("the Authorization header holds no bearer token (expected: Bearer <token>)")
    # Constant time in the token's content: a wrong guess takes as long however much of it was right.
    if not hmac.compare_digest(match.group(1).encode("utf-8", "replace"), token.encode("utf-8")):
        raise Forbidden("the bearer token is not dns-admin's (see DNSRACE_ADMIN_TOKEN in .env)")


def check_origin(origin: str | None, host: str | None) -> None:
    """Pass when there is no Origin (curl, the CLI, the enactors) or it is this server's own (the
    console's page); raise CrossSiteRequest for any other site's page."""
    if origin is None:
        return
    own = f"http://{host}".lower() if host else None
    if own is None or origin.lower() != own:
        raise CrossSiteRequest(f"a request from another site ({quoted(origin)[:80]}) may not change anything here; "
                               f"only this console's own page ({own or 'unknown host'}) may")
