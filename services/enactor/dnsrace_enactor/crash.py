"""What a crash event says: the exception, where it was raised, and where the protocol was when it left.

A responder wants the line in *our* protocol code that turned an error into a dead process (legacy.py's
on_error, not the HTTP client's raise), so both are given: `raised_at` is the innermost frame;
`protocol_at` is the innermost frame inside a mode module (where the mode decided to let the error
escape), or failing that the innermost frame inside the enactor package.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_APP_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_PACKAGE_DIR)))
_MODE_FILES = {os.path.join(_PACKAGE_DIR, name) for name in ("legacy.py", "safe.py")}


def _where(frame: traceback.FrameSummary) -> str:
    return f"{os.path.relpath(frame.filename, _APP_ROOT)}:{frame.lineno}"


def describe_crash(error: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if os.path.abspath(f.filename).startswith(_PACKAGE_DIR + os.sep)]
    decided = [f for f in ours if os.path.abspath(f.filename) in _MODE_FILES]
    ours = decided or ours
    message = getattr(error, "message", None) or str(error)
    return {
        "exception": type(error).__name__,
        "message": message,
        "raised_at": _where(frames[-1]) if frames else None,
        "protocol_at": _where(ours[-1]) if ours else None,
        "protocol_function": ours[-1].name if ours else None,
        "protocol_line": (ours[-1].line or "").strip() if ours else None,
        "traceback": [f"{_where(f)} in {f.name}" for f in frames],
    }
