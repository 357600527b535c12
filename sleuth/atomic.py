"""Atomic writes and directory moves: a reader sees the old file or the new one, never half."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator
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


@contextlib.contextmanager
def building_directory(out: Path, *, mode: int | None = None) -> Iterator[Path]:
    """A fresh directory beside ``out`` to build in. When the block ends normally, the directory
    takes ``out``'s place (:func:`replace_directory`); when it raises, or is interrupted, the
    half-built directory is removed and ``out`` is left as it was. ``mode``: permissions for
    the new directory (``tempfile.mkdtemp`` makes it private, 0700)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        yield tmp
        replace_directory(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str | Iterable[str]) -> None:
    """Write ``text`` (a string, or lines written one after another) to ``path`` durably.

    It goes to a uniquely named temporary file beside ``path``, is fsynced, then renamed over
    ``path``; a failure part-way removes the temporary file and leaves ``path`` as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # 0666 through the umask, as open() gives a new file (mkstemp would make it 0600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.fchmod(fd, path.stat().st_mode & 0o777)  # a rewritten file keeps its mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            if isinstance(text, str):
                handle.write(text)
            else:
                handle.writelines(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
