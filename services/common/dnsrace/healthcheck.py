"""Liveness files: a loop with no HTTP port (planner, enactors) touches one on every iteration.

The container healthcheck (docker-compose.yml) is then `find FILE -mmin -0.2`: "healthy" means "the
loop is turning", not merely "the process exists", and checking it starts no Python interpreter.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["touch"]


def touch(path: str) -> None:
    Path(path).touch()
