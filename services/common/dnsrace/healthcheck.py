"""Container healthchecks that need nothing but the Python in the image.

    python3 -m dnsrace.healthcheck http URL          exit 0 if URL answers 2xx within 2 s
    python3 -m dnsrace.healthcheck file PATH AGE_S   exit 0 if PATH was touched in the last AGE_S s

The `file` form is for loops with no HTTP port (planner, enactors): each iteration touches the file,
so "healthy" means "the loop is turning", not merely "the process exists".
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path

HTTP_TIMEOUT_S = 2.0


def touch(path: str) -> None:
    Path(path).touch()


def check_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as response:
            return 200 <= int(response.status) < 300
    except OSError:
        return False


def check_file(path: str, age_max_s: float) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime <= age_max_s
    except OSError:
        return False


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "http":
        return 0 if check_http(argv[1]) else 1
    if len(argv) == 3 and argv[0] == "file":
        return 0 if check_file(argv[1], float(argv[2])) else 1
    print("usage: python3 -m dnsrace.healthcheck http URL | file PATH AGE_S", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
