"""The stack's facts have one source: infra/versions.env for versions, dnsrace.keys for Redis keys,
dnsrace_lab.stack.names for names and images. docker-compose.yml cannot import them, so it is checked."""

from __future__ import annotations

import re

from dnsrace_lab.stack import names as stack_names
from dnsrace_lab.stack.names import ENACTORS, SERVICES, TOP, images, pinned_versions


def compose_text() -> str:
    return (TOP / "docker-compose.yml").read_text()


def test_compose_runs_exactly_the_images_versions_env_pins() -> None:
    tags = set(re.findall(r"^\s+image: (\S+)$", compose_text(), re.MULTILINE))
    expected = {image for image in images() if image != stack_names.APP_IMAGE} | {"${DNSRACE_APP_IMAGE:-dnsrace/app:local}"}
    assert tags == expected


def test_compose_defines_exactly_the_services_the_lab_names() -> None:
    block = compose_text().split("\nservices:\n", 1)[1].split("\nnetworks:", 1)[0]
    defined = set(re.findall(r"^  ([a-z0-9-]+):", block, re.MULTILINE))
    assert defined == set(SERVICES) and set(ENACTORS) <= set(SERVICES)


def test_versions_env_is_read_not_retyped() -> None:
    versions = pinned_versions()
    assert {"COREDNS_VERSION", "TOXIPROXY_VERSION", "REDIS_VERSION"} <= set(versions)
    assert f"dnsrace/coredns:{versions['COREDNS_VERSION']}" in images()


def test_the_makefile_runs_the_lab_with_the_paths_the_lab_names() -> None:
    lab = next(line for line in (TOP / "Makefile").read_text().splitlines() if line.startswith("LAB :="))
    assert f"PYTHONPATH={':'.join(stack_names.LAB_PATHS)} " in lab, lab
