"""Break each of safe mode's decisions on purpose and check that the unit suite notices.

    /usr/bin/python3 tests/mutate_safe.py

A test earns trust by failing: each mutation below removes one protection that the README claims,
runs the unit tests, and must make them fail. It mutates a scratch copy of the tree (scratch_tree.py),
never the tree itself, and exits 1 if any mutation went unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from scratch_tree import scratch_copy

TOP = Path(__file__).resolve().parents[1]
SAFE = TOP / "services/enactor/dnsrace_enactor/safe.py"
MUTATIONS = {
    "blind write (UPSERT, no compare-and-swap)":
        ('changes = [*deleting(checked.endpoint_alias), Change("CREATE",', 'changes = [Change("UPSERT",'),
    "rollback to a plan that no longer exists":
        ("if previous is not None and checked.exists(previous):", "if previous is not None:"),
    "cleanup spares nothing": ("return Cleanup.sparing(victims, facts.references)", "return Cleanup(tuple(victims))"),
    "cleanup re-asserts nothing":
        ('return (*unchanged(facts, victim), Change("DELETE", victim))', 'return (Change("DELETE", victim),)'),
    "every error retried, nothing frozen": ('return "freeze" if not retry or', 'return "retry" if not retry or'),
    "an empty answer never repaired": ("return facts.endpoint_problem", "return None"),
    "a lost live plan never restored": ("or facts.lost_live_plan(plan.id)", ""),
    "no refusal of a backwards move": ("if not is_newer(plan.generation, checked.live_generation):", "if False:"),
    "an odd state never frozen": ("return facts.oddity", "return None"),
}


def main() -> int:
    root = scratch_copy(TOP)  # never the tree itself: see scratch_tree.py
    safe = root / SAFE.relative_to(TOP)
    original = safe.read_text()
    missed = []
    try:
        for name, (before, after) in MUTATIONS.items():
            if before not in original:
                print(f"STALE   {name}: the code it mutates is gone; update this script")
                missed.append(name)
                continue
            safe.write_text(original.replace(before, after, 1))
            result = subprocess.run([sys.executable, "-m", "pytest", "tests/unit", "-q", "-x", "-p", "no:cacheprovider"],
                                    cwd=root, capture_output=True, text=True, timeout=600)
            summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"{'caught ' if result.returncode else 'MISSED '} {name}: {summary}")
            if result.returncode == 0:
                missed.append(name)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{len(MUTATIONS) - len(missed)} of {len(MUTATIONS)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
