"""Render the zone as an RFC 1035 master file for CoreDNS's `file` plugin, and write it atomically.

CoreDNS cannot do two things Route 53 does, so they are resolved here, at render time:
- weights: CoreDNS answers every A record of a name. Weighted routing is therefore rendered as
  presence: a record of weight 0 is left out (drained), unless every record of the set has weight 0,
  in which case Route 53 answers all of them equally, and so do we.
- aliases: CoreDNS has no ALIAS type. An alias is flattened: its name gets the target's A records
  with the target's TTL. An alias whose target is missing renders NO records, so the endpoint answers
  empty (NOERROR/NODATA) — the outage. A comment line marks it for a human reading the file.

The SOA minimum and the SOA record's own TTL are both `negative_ttl_s`: resolvers cache an empty
answer for min(SOA TTL, SOA minimum) (RFC 2308), which is what makes the outage outlive its repair.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from pathlib import Path
from typing import Iterable

from dnsrace.records import ARecord, RecordSet

SERIAL_MAX = 2**32 - 1  # SOA serials are unsigned 32-bit
NS_TTL_S = 3600
SOA_REFRESH_S = 60
SOA_RETRY_S = 30
SOA_EXPIRE_S = 86_400
ZONE_FILE_MODE = 0o644  # CoreDNS may run as another user in its own container


def answering_records(record_set: RecordSet) -> tuple[ARecord, ...]:
    """The records CoreDNS should answer for an A record set (Route 53 weighted semantics)."""
    weighted = tuple(record for record in record_set.records if record.weight > 0)
    chosen = weighted if weighted else record_set.records
    return tuple(sorted(chosen, key=lambda record: int(ipaddress.IPv4Address(record.address))))


def render(
    zone: str,
    serial: int,
    record_sets: Iterable[RecordSet],
    *,
    negative_ttl_s: int,
    ns_address: str = "127.0.0.1",
) -> str:
    """Return the zone file text; deterministic (sorted) so equal zones render byte-identical files."""
    if not 1 <= serial <= SERIAL_MAX:
        raise ValueError(f"SOA serial must be 1..{SERIAL_MAX}, got {serial}")
    if negative_ttl_s < 1:
        raise ValueError(f"negative_ttl_s must be positive, got {negative_ttl_s}")
    origin = f"{zone}."
    by_key = {record_set.key: record_set for record_set in record_sets}
    lines = [
        f"; zone {zone}, rendered by dns-admin from its store. Do not edit: it is overwritten.",
        f"$ORIGIN {origin}",
        f"@ {negative_ttl_s} IN SOA ns.{origin} hostmaster.{origin} "
        f"{serial} {SOA_REFRESH_S} {SOA_RETRY_S} {SOA_EXPIRE_S} {negative_ttl_s}",
        f"@ {NS_TTL_S} IN NS ns.{origin}",
        f"ns {NS_TTL_S} IN A {ns_address}",
    ]
    for key in sorted(by_key):
        record_set = by_key[key]
        if record_set.type == "A":
            lines.extend(_a_lines(record_set.name, record_set))
            continue
        target = by_key.get((record_set.target or "", "A"))
        if target is None:
            lines.append(f"; alias {record_set.name} -> {record_set.target} (target missing: answers empty)")
            continue
        lines.append(f"; alias {record_set.name} -> {record_set.target}")
        lines.extend(_a_lines(record_set.name, target))
    return "\n".join(lines) + "\n"


def _a_lines(name: str, source: RecordSet) -> list[str]:
    return [f"{name}. {source.ttl} IN A {record.address}" for record in answering_records(source)]


def write_zone_file(path: Path, text: str) -> None:
    """Replace `path` with `text` so that readers see the old file or the new one, never a mix.

    The temp file lives in the same directory because os.replace is only atomic within one file
    system; fsync before the rename so the new name never points at unwritten data, and fsync the
    directory after it so the rename itself survives a crash.
    """
    directory = path.parent
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), ZONE_FILE_MODE)
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)
