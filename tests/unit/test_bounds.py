"""Put a limit on everything: every command the services and the bench run has a timeout.

Read from the source (ast), so a new `subprocess.run(...)` without `timeout=` fails here, before it can
hang a scenario or `make bench` on a docker daemon that stopped answering.
"""

from __future__ import annotations

import ast
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
SCANNED = sorted([*(TOP / "services").rglob("*.py"), *(TOP / "bench").glob("*.py")])
BLOCKING = {"run", "call", "check_call", "check_output"}  # subprocess functions that wait for the child


def commands_without_timeout(source: str) -> list[int]:
    """Lines of subprocess.run/call/check_*(...) calls, direct or through asyncio.to_thread, with no timeout=."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr == "to_thread" and node.args:
            function = node.args[0]  # asyncio.to_thread(subprocess.run, command, ..., timeout=...)
        if (isinstance(function, ast.Attribute) and function.attr in BLOCKING
                and isinstance(function.value, ast.Name) and function.value.id == "subprocess"
                and not any(keyword.arg == "timeout" for keyword in node.keywords)):
            found.append(node.lineno)
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    assert commands_without_timeout("import subprocess\nsubprocess.run(['nproc'])\n") == [2]
    assert commands_without_timeout("subprocess.check_output(['x'], timeout=5)\n") == []
    assert commands_without_timeout("asyncio.to_thread(subprocess.run, ['docker', 'pause', 'x'])\n") == [1]
    assert commands_without_timeout("asyncio.to_thread(subprocess.run, ['x'], timeout=30)\n") == []
    assert any(path.name == "bench.py" for path in SCANNED) and any(path.name == "live.py" for path in SCANNED)


def test_every_command_run_by_a_service_or_the_bench_has_a_timeout() -> None:
    offenders = {str(path.relative_to(TOP)): lines for path in SCANNED
                 if (lines := commands_without_timeout(path.read_text()))}
    assert offenders == {}, f"subprocess calls with no timeout (file: lines): {offenders}"
