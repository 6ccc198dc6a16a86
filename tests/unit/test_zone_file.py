"""zone_file: what CoreDNS will serve, byte for byte, and how the file is replaced."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from dnsrace.records import ARecord, RecordSet
from dnsrace_admin.zone_file import answering_records, render, write_zone_file

ZONE = "lab.test"
EP = "dynamodb.us-east-1.lab.test"
PLAN_145 = f"plan-000145.{EP}"
PLAN_110 = f"plan-000110.{EP}"


def plan(name: str, *records: tuple[str, int], ttl: int = 60) -> RecordSet:
    return RecordSet.a(name, ttl, [ARecord(address, weight) for address, weight in records])


def test_golden_empty_zone() -> None:
    assert render(ZONE, 1, [], negative_ttl_s=15) == (
        "; zone lab.test, rendered by dns-admin from its store. Do not edit: it is overwritten.\n"
        "$ORIGIN lab.test.\n"
        "@ 15 IN SOA ns.lab.test. hostmaster.lab.test. 1 60 30 86400 15\n"
        "@ 3600 IN NS ns.lab.test.\n"
        "ns 3600 IN A 127.0.0.1\n"
    )


def test_golden_flattened_alias_missing_target_and_weights() -> None:
    record_sets = [
        RecordSet.alias(f"rollback.{EP}", PLAN_110),  # target deleted: the outage shape
        RecordSet.alias(EP, PLAN_145),
        plan(PLAN_145, ("10.0.0.3", 1), ("10.0.0.10", 2), ("10.0.0.2", 0), ttl=30),
    ]
    text = render(ZONE, 146, record_sets, negative_ttl_s=7, ns_address="172.20.0.2")
    assert text == (
        "; zone lab.test, rendered by dns-admin from its store. Do not edit: it is overwritten.\n"
        "$ORIGIN lab.test.\n"
        "@ 7 IN SOA ns.lab.test. hostmaster.lab.test. 146 60 30 86400 7\n"
        "@ 3600 IN NS ns.lab.test.\n"
        "ns 3600 IN A 172.20.0.2\n"
        f"; alias {EP} -> {PLAN_145}\n"
        f"{EP}. 30 IN A 10.0.0.3\n"
        f"{EP}. 30 IN A 10.0.0.10\n"
        f"{PLAN_145}. 30 IN A 10.0.0.3\n"
        f"{PLAN_145}. 30 IN A 10.0.0.10\n"
        f"; alias rollback.{EP} -> {PLAN_110} (target missing: answers empty)\n"
    )


def test_alias_with_missing_target_renders_no_a_lines() -> None:
    text = render(ZONE, 9, [RecordSet.alias(EP, PLAN_145)], negative_ttl_s=15)
    assert f"; alias {EP} -> {PLAN_145} (target missing: answers empty)" in text
    assert not [line for line in text.splitlines() if line.startswith(f"{EP}.")]


def test_alias_to_an_alias_renders_empty() -> None:
    # The engine refuses to create such a chain, but the store can still reach it (the inner alias
    # is created where a deleted target used to be); the renderer must not follow it.
    record_sets = [RecordSet.alias(EP, PLAN_145), RecordSet.alias(PLAN_145, PLAN_110), plan(PLAN_110, ("10.0.0.1", 1))]
    text = render(ZONE, 2, record_sets, negative_ttl_s=15)
    assert f"; alias {EP} -> {PLAN_145} (target missing: answers empty)" in text
    assert not [line for line in text.splitlines() if line.startswith(f"{EP}.")]


def test_weight_zero_records_are_drained_unless_all_are_zero() -> None:
    some = plan(PLAN_145, ("10.0.0.1", 0), ("10.0.0.2", 5))
    assert [r.address for r in answering_records(some)] == ["10.0.0.2"]
    everyone_zero = plan(PLAN_145, ("10.0.0.2", 0), ("10.0.0.1", 0))
    assert [r.address for r in answering_records(everyone_zero)] == ["10.0.0.1", "10.0.0.2"]
    text = render(ZONE, 3, [everyone_zero], negative_ttl_s=15)
    assert f"{PLAN_145}. 60 IN A 10.0.0.1\n{PLAN_145}. 60 IN A 10.0.0.2\n" in text


def test_render_is_deterministic_regardless_of_input_order() -> None:
    record_sets = [plan(f"p{i}.lab.test", (f"10.0.0.{i + 1}", 1)) for i in range(5)] + [
        RecordSet.alias(EP, "p3.lab.test")
    ]
    forward = render(ZONE, 5, record_sets, negative_ttl_s=15)
    assert forward == render(ZONE, 5, list(reversed(record_sets)), negative_ttl_s=15)
    names = [line.split()[0] for line in forward.splitlines()[5:] if not line.startswith(";")]
    assert names == sorted(names)


def test_every_record_line_is_fully_qualified() -> None:
    text = render(ZONE, 2, [plan(PLAN_145, ("10.0.0.1", 1)), RecordSet.alias(EP, PLAN_145)], negative_ttl_s=15)
    for line in text.splitlines()[5:]:
        if not line.startswith(";"):
            assert line.split()[0].endswith(".lab.test.")


@pytest.mark.parametrize("serial", [0, -1, 2**32])
def test_render_refuses_serials_outside_soa_range(serial: int) -> None:
    with pytest.raises(ValueError, match="serial"):
        render(ZONE, serial, [], negative_ttl_s=15)


def test_write_zone_file_replaces_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "db.lab.test"
    write_zone_file(path, "first\n")
    assert path.read_text() == "first\n"
    inode_before = path.stat().st_ino
    write_zone_file(path, "second\n")
    assert path.read_text() == "second\n"
    assert path.stat().st_ino != inode_before  # replaced by rename, not rewritten in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.lab.test"]
    assert path.stat().st_mode & 0o777 == 0o644


def test_write_zone_file_failure_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    path = tmp_path / "db.lab.test"
    write_zone_file(path, "good\n")
    with pytest.raises(UnicodeEncodeError):
        write_zone_file(path, "bad \u00e9\n")  # zone files are ASCII; the write fails mid-way
    assert path.read_text() == "good\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.lab.test"]


def test_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "db.lab.test"
    versions = [f"; version {i}\n" + ("x" * 200_000) + "\nend\n" for i in range(2)]
    write_zone_file(path, versions[0])
    stop = threading.Event()
    seen: list[str] = []

    def read_continuously() -> None:
        while not stop.is_set():
            seen.append(path.read_text())

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for i in range(30):
            write_zone_file(path, versions[i % 2])
    finally:
        stop.set()
        reader.join(timeout=10)
    assert seen
    assert all(text in versions for text in seen)
    assert os.listdir(tmp_path) == ["db.lab.test"]


def test_rendered_zone_parses_as_a_master_file() -> None:
    # dnspython's parser stands in for CoreDNS's: the file must be a valid RFC 1035 master file.
    import dns.rdatatype
    import dns.zone

    record_sets = [
        plan(PLAN_145, ("10.0.0.1", 1), ("10.0.0.2", 1)),
        RecordSet.alias(EP, PLAN_145),
        RecordSet.alias(f"rollback.{EP}", PLAN_110),
    ]
    zone = dns.zone.from_text(render(ZONE, 146, record_sets, negative_ttl_s=15), origin="lab.test.", relativize=False)
    soa = zone.find_rdataset("lab.test.", dns.rdatatype.SOA)
    assert (soa.ttl, soa[0].serial, soa[0].minimum) == (15, 146, 15)
    endpoint = zone.find_rdataset(f"{EP}.", dns.rdatatype.A)
    assert sorted(rdata.address for rdata in endpoint) == ["10.0.0.1", "10.0.0.2"]
    assert endpoint.ttl == 60
    assert zone.get_node(f"rollback.{EP}.") is None  # the alias with a missing target has no records
