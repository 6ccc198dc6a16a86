"""python3 -m dnsrace_backend.control fail|heal — flip this container's backend (used by make backend-fail)."""

from __future__ import annotations

import sys
import urllib.request


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("fail", "heal"):
        print("usage: python3 -m dnsrace_backend.control fail|heal", file=sys.stderr)
        return 2
    request = urllib.request.Request(f"http://127.0.0.1:8080/admin/{argv[0]}", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=5) as response:
        print(response.read().decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
