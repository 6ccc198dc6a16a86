"""Running Spin: generate the verifier, compile it, run it, read its report. The one module with I/O.

    spin -a [-D...] model.pml  ->  pan.c  ->  gcc [-D...] -o pan  ->  ./pan [flags]  ->  Report

Every command runs in a scratch directory of its own, with a timeout; a missing tool, a timeout or
a compile error raises SpinError naming the command. Parsing pan's report is pure (parse_report).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODEL_DIR", "Report", "Run", "SpinError", "parse_report", "replay", "verify"]

MODEL_DIR = Path(__file__).resolve().parents[1]
SPIN_TIMEOUT_S = 60.0
GCC_TIMEOUT_S = 120.0
REPLAY_TIMEOUT_S = 60.0


class SpinError(RuntimeError):
    """Spin, gcc or pan could not be run, or did not finish within its bound."""


@dataclass(frozen=True)
class Report:
    """What pan said: the numbers `make model` prints, and the error it found, if any."""

    errors: int
    states_stored: int
    transitions: int
    depth_reached: int
    memory_mb: float
    elapsed_s: float
    complete: bool            # the whole state space was searched (no depth cut, no early stop)
    assertion: str | None     # the text of the violated assertion
    lines: tuple[str, ...]    # pan's own output lines that start with @@ (trace progress)


@dataclass(frozen=True)
class Run:
    """One verification: the report, and the directory holding the trail (if any)."""

    report: Report
    workdir: Path
    model: Path
    defines: tuple[str, ...]
    seconds: float            # wall clock for spin + gcc + pan

    def trail(self) -> Path | None:
        trail = self.workdir / f"{self.model.name}.trail"
        return trail if trail.exists() else None


def _number(pattern: str, text: str, default: float = 0.0) -> float:
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else default


def parse_report(text: str) -> Report:
    """pan's statistics block, e.g. `1294359 states, stored`, `depth reached 939, errors: 0`."""
    assertion = re.search(r"assertion violated (.*?) \(at depth", text)
    acceptance = re.search(r"acceptance cycle \(at depth", text)
    errors = int(_number(r"errors: (\d+)", text))
    incomplete = ("max search depth too small" in text or "Search not completed" in text
                  or "out of memory" in text.lower())
    return Report(
        errors=errors,
        states_stored=int(_number(r"^\s*(\d+) states, stored", text)),
        transitions=int(_number(r"^\s*(\d+) transitions \(= ", text)) or int(
            _number(r"^\s*(\d+) states, matched", text) + _number(r"^\s*(\d+) states, stored", text)),
        depth_reached=int(_number(r"depth reached (\d+)", text)),
        memory_mb=_number(r"^\s*([\d.]+)\s+total actual memory usage", text),
        elapsed_s=_number(r"^pan: elapsed time ([\d.e+]+) seconds", text),
        complete=errors == 0 and not incomplete,
        assertion=assertion.group(1) if assertion else ("acceptance cycle" if acceptance else None),
        lines=tuple(line for line in text.splitlines() if line.startswith("@@")),
    )


def _run(command: Sequence[str], cwd: Path, timeout_s: float) -> str:
    try:
        result = subprocess.run(list(command), cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError as error:
        raise SpinError(f"{command[0]} is not installed (infra/host-deps.sh installs spin)") from error
    except subprocess.TimeoutExpired as error:
        raise SpinError(f"{' '.join(command)} did not finish within {timeout_s:g} s") from error
    if result.returncode != 0 and command[0] != "./pan":
        raise SpinError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return result.stdout + result.stderr


def verify(model: Path, defines: Sequence[str], *, pan_flags: Sequence[str], cc_flags: Sequence[str] = (),
           timeout_s: float, workdir: Path | None = None, optimize: str = "-O1") -> Run:
    """spin -a, gcc and pan for `model` (copied with its includes into a scratch directory).

    `optimize`: -O1 (gcc -O2 takes three times as long to compile pan.c and the search is no faster
    overall); a trace check's verifier is mostly its tables, which gcc
    takes 20 s to optimise and pan then searches in a fraction of a second, so it uses -O0."""
    if shutil.which("spin") is None:
        raise SpinError("spin is not installed (infra/host-deps.sh installs Debian's spin)")
    started = time.monotonic()
    work = workdir or Path(tempfile.mkdtemp(prefix="dnsrace-model-"))
    for source in MODEL_DIR.glob("*.pml"):
        if not (work / source.name).exists():
            shutil.copy(source, work / source.name)
    if model.parent != work:
        shutil.copy(model, work / model.name)
    flags = [f"-D{d}" for d in defines]
    _run(["spin", "-a", *flags, model.name], work, SPIN_TIMEOUT_S)
    _run(["gcc", optimize, "-w", *cc_flags, "-o", "pan", "pan.c"], work, GCC_TIMEOUT_S)
    output = _run(["./pan", *pan_flags], work, timeout_s)
    return Run(parse_report(output), work, work / model.name, tuple(defines), time.monotonic() - started)


def replay(run: Run) -> list[str]:
    """`spin -t`: the trail replayed, as the lines the model printed (@@...)."""
    flags = [f"-D{d}" for d in run.defines]
    output = _run(["spin", "-t", "-T", *flags, run.model.name], run.workdir, REPLAY_TIMEOUT_S)
    return [line.strip() for line in output.splitlines() if line.strip().startswith("@@")]
