"""A scratch copy of the tree, for the mutation scripts (mutate_safe.py, mutate_protections.py).

They break code on purpose; doing it in the tree itself would let an image built meanwhile (the app
image copies services/) ship the broken code, and a script killed mid-run would leave it broken.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

LIST_TIMEOUT_S = 60


def scratch_copy(top: Path) -> Path:
    """The tree's files (tracked, and untracked ones git does not ignore, as they are now) copied to a
    new directory, which the caller removes."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=top,
                            capture_output=True, check=True, timeout=LIST_TIMEOUT_S).stdout.decode().split("\0")
    root = Path(tempfile.mkdtemp(prefix="dnsrace-mutate-"))
    for name in filter(None, listed):
        if (top / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(top / name, root / name)
    return root
