"""python3 -m dnsrace_lab.harness.report (make chaos-judge): judge recorded runs again, or tabulate them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


from dnsrace_lab.harness.checker import UNKNOWN, overall
from dnsrace_lab.harness.report.folder import rejudge
from dnsrace_lab.harness.report.tables import SYMBOL, result_of, campaign_table


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="python3 -m dnsrace_lab.harness.report",
                                     description="judge recorded chaos runs again, from their histories alone")
    parser.add_argument("runs", nargs="+", type=Path, help="store/chaos/<time>-<mode>-<seed> folders")
    parser.add_argument("--table", metavar="WALL_S", type=float,
                        help="then print the campaign's table and summary, the runs having taken WALL_S in all")
    args = parser.parse_args(argv)
    values = []
    for folder in args.runs:
        verdicts = rejudge(folder)
        values.append(overall(verdicts))
        marks = " ".join(f"{v.title.split(maxsplit=1)[0]} {SYMBOL[v.valid]}" for v in verdicts.values())
        print(f"{folder}: {marks}",
              file=sys.stderr if args.table else sys.stdout)
    if args.table:
        print("\n".join(campaign_table([result_of(folder) for folder in args.runs], args.table)))
    return 1 if False in values else 2 if UNKNOWN in values else 0


