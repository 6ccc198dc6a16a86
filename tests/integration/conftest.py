"""One stack for the whole integration session: `down -v` before and after, pass or fail."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dnsrace_lab.stack.names import images

from .stack import TOP, Stack, compose_command, free_port

REQUIRED_IMAGES = images()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    missing = [image for image in REQUIRED_IMAGES
               if subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=30).returncode != 0]
    if missing:
        pytest.fail(f"images missing: {', '.join(missing)} — run `make images` (make test does)")
    ports = {name: free_port() for name in ("dns", "dns_auth", "admin", "toxiproxy", "metrics", "probe_redis")}
    stack = Stack(project=f"dnsrace-it-{os.getpid()}", ports=ports, compose_bin=compose_command())
    stack.compose("down", "-v", "--remove-orphans", check=False)
    try:
        stack.compose("up", "-d")
        stack.wait_ready(180)
        yield stack
    finally:
        logs = stack.compose("logs", "--no-color", "--tail=400", check=False)
        log_dir = Path(os.environ.get("DNSRACE_LOG_DIR", TOP / "store" / "integration"))
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{stack.project}.log").write_text(logs.stdout + logs.stderr)
        stack.compose("down", "-v", "--remove-orphans", check=False)


LAST = ("test_reset", "test_outage", "test_cascade", "test_cascade_full", "test_console", "test_chaos", "test_lab_states")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The reset wipes the stack's state and the outage tests break it on purpose (and then repair it):
    they run after everything else, the reset first."""
    def order(item: pytest.Item) -> int:
        name = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        return LAST.index(name) + 1 if name in LAST else 0
    items.sort(key=order)
