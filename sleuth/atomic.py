"""Atomic file-system moves shared by index and sandbox builds."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def replace_directory(tmp: Path, out: Path) -> None:
    """Put the finished directory ``tmp`` at ``out``, replacing any old one.

    Each step is a rename on one file system, so a reader sees either the old complete
    directory or the new one, never a half-written mix. An old directory is moved aside
    first and deleted last.
    """
    if not out.exists():
        os.rename(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / out.name)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
