"""dns-admin's settings, read once from the environment and checked before anything starts.

A bad setting stops the process with one clear line (exit 2) instead of surfacing later as a
confusing failure, e.g. a zone file CoreDNS refuses or a negative TTL that hides the outage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from dnsrace.batch_rules import RECORD_SET_COUNT_MAX
from dnsrace.config import ConfigError   # the one error for a bad setting, every service's
from dnsrace.keys import EVENTS_STREAM
from dnsrace.records import InvalidInput, normalize_name, normalize_zone, validate_ipv4

from .auth import validate_token

NEGATIVE_TTL_S_MAX = 3600
_DIGITS = re.compile(r"[0-9]{1,9}")
_SERVICE_NAME = re.compile(r"[a-z0-9-]{1,64}")
_HOST = re.compile(r"[a-z0-9.-]{1,253}")
_STREAM = re.compile(r"[A-Za-z0-9:_.-]{1,128}")
CONSOLE_EVENTS_MAX = 10_000
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Config:
    zone: str
    data_dir: Path
    zone_dir: Path
    negative_ttl_s: int
    ns_address: str
    http_port: int
    redis_url: str | None  # None: events go to stdout
    service_name: str
    record_set_count_max: int
    admin_token: str            # every mutating request must carry it (auth.py)
    endpoint: str               # what the console watches
    events_stream: str
    resolver_host: str          # the console asks CoreDNS, as clients do: its cached listener ...
    resolver_port: int
    authoritative_port: int     # ... and its authoritative one (what the zone says right now)
    console_events_max: int     # the newest events the console keeps in memory

    @property
    def store_path(self) -> Path:
        return self.data_dir / "zone.sqlite3"

    @property
    def zone_file_path(self) -> Path:
        return self.zone_dir / f"db.{self.zone}"


def load_config(env: Mapping[str, str]) -> Config:
    try:
        zone = normalize_zone(env.get("ZONE", "lab.test"))
    except InvalidInput as error:
        raise ConfigError(f"ZONE: {error.message}") from None
    try:
        ns_address = validate_ipv4(env.get("NS_ADDRESS", "127.0.0.1"))
    except InvalidInput as error:
        raise ConfigError(f"NS_ADDRESS: {error.message}") from None
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url is not None and not redis_url.startswith(_REDIS_SCHEMES):
        raise ConfigError(f"REDIS_URL: {redis_url!r} must start with one of {', '.join(_REDIS_SCHEMES)}")
    service_name = env.get("SERVICE_NAME", "dns-admin")
    if _SERVICE_NAME.fullmatch(service_name) is None:
        raise ConfigError(f"SERVICE_NAME: {service_name!r} must be 1..64 characters of a-z, 0-9 and '-'")
    try:
        admin_token = validate_token(env.get("DNSRACE_ADMIN_TOKEN", ""))
    except ValueError as error:
        raise ConfigError(f"DNSRACE_ADMIN_TOKEN: {error}") from None
    try:
        endpoint = normalize_name(env.get("ENDPOINT", f"dynamodb.us-east-1.{zone}"), zone=zone)
    except InvalidInput as error:
        raise ConfigError(f"ENDPOINT: {error.message}") from None
    resolver_host = env.get("CONSOLE_RESOLVER_HOST", "coredns")
    if _HOST.fullmatch(resolver_host) is None:
        raise ConfigError(f"CONSOLE_RESOLVER_HOST: {resolver_host!r} must be a host name or an IPv4 address")
    events_stream = env.get("EVENTS_STREAM", EVENTS_STREAM)
    if _STREAM.fullmatch(events_stream) is None:
        raise ConfigError(f"EVENTS_STREAM: {events_stream!r} must be 1..128 characters of A-Z a-z 0-9 : _ . -")
    return Config(
        zone=zone,
        data_dir=_directory(env, "DATA_DIR", "/data"),
        zone_dir=_directory(env, "ZONE_DIR", "/zones"),
        negative_ttl_s=_integer(env, "NEGATIVE_TTL_S", 15, 1, NEGATIVE_TTL_S_MAX),
        ns_address=ns_address,
        http_port=_integer(env, "HTTP_PORT", 8080, 1, 65535),
        redis_url=redis_url,
        service_name=service_name,
        record_set_count_max=_integer(env, "ZONE_RECORD_SET_COUNT_MAX", RECORD_SET_COUNT_MAX, 10, 1_000_000),
        admin_token=admin_token,
        endpoint=endpoint,
        events_stream=events_stream,
        resolver_host=resolver_host,
        resolver_port=_integer(env, "CONSOLE_RESOLVER_PORT", 53, 1, 65535),
        authoritative_port=_integer(env, "CONSOLE_AUTHORITATIVE_PORT", 5354, 1, 65535),
        console_events_max=_integer(env, "CONSOLE_EVENTS_MAX", CONSOLE_EVENTS_MAX, 100, 200_000),
    )


def _integer(env: Mapping[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = env.get(key, str(default)).strip()
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise ConfigError(f"{key}: expected an integer {low}..{high}, got {raw!r}")
    return int(raw)


def _directory(env: Mapping[str, str], key: str, default: str) -> Path:
    raw = env.get(key, default)
    if not raw:
        raise ConfigError(f"{key}: must not be empty")
    return Path(raw)
