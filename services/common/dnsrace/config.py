"""Reading a service's settings from its environment, with one clear error for a bad value.

Every service calls these at start-up and exits with status 2 and a one-line message naming the
variable, so a typo in docker-compose.yml reads as a sentence in `docker-compose logs`, not a trace.
"""

from __future__ import annotations

import os
import re
import sys
from typing import NoReturn

__all__ = ["ConfigError", "env_int", "env_str", "env_choice", "exit_on_config_error"]


class ConfigError(ValueError):
    """A setting is missing or out of range."""


def env_str(name: str, default: str | None = None, *, pattern: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"{name} is required and not set")
    if pattern is not None and re.fullmatch(pattern, value) is None:
        raise ConfigError(f"{name}={value!r} does not match {pattern}")
    return value


def env_int(name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default) or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} must be one of {', '.join(choices)}")
    return value


def exit_on_config_error(service: str, error: ConfigError) -> NoReturn:
    print(f"{service}: bad configuration: {error}", file=sys.stderr, flush=True)
    raise SystemExit(2)
