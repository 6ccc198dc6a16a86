"""A real Redis for the unit tests of everything that speaks to Redis (events, lock, plan store, planner).

Fakes cannot say whether a Lua script is right, so these tests run the real `redis-server` binary: one
process per test on a free loopback port, no persistence, terminated afterwards. A missing binary is a
FAILURE, never a skip: `make test` installs it (infra/host-deps.sh), and a suite that quietly skipped the
lock's tests would pass with a lock that grants itself twice.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

REDIS_START_TIMEOUT_S = 10.0
REDIS_STOP_TIMEOUT_S = 10.0
REDIS_CALL_TIMEOUT_S = 5.0


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_server_binary(scratch: Path) -> str | None:
    """redis-server, or Debian redis-tools' redis-check-rdb — the same Redis binary, which runs as a
    server when invoked under the name redis-server (Redis picks its role from argv[0])."""
    server = shutil.which("redis-server")
    if server is not None:
        return server
    check_rdb = shutil.which("redis-check-rdb")
    if check_rdb is None:
        return None
    link = scratch / "redis-server"
    link.symlink_to(check_rdb)
    return str(link)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = redis_server_binary(tmp_path)
    if server is None:
        pytest.fail("neither redis-server nor redis-check-rdb is installed: install redis-tools "
                    "(`bash infra/host-deps.sh`, which `make test` runs); the tests against a real Redis must run")
    port = free_loopback_port()
    process = subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        while not answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server on port {port} did not answer PING within {REDIS_START_TIMEOUT_S} s")
            time.sleep(0.02)  # polling the condition above, bounded by the deadline
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=REDIS_STOP_TIMEOUT_S)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, socket_timeout=REDIS_CALL_TIMEOUT_S,
                               socket_connect_timeout=REDIS_CALL_TIMEOUT_S)
    yield client
    await client.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte: a stalled peer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])
