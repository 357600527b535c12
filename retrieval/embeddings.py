"""Passage embeddings cached on disk as memory-mapped ``.npy``, encoded resumably.

``encode_store`` writes ``NAME.partial.npy`` chunk by chunk and records how many rows are
done in ``NAME.progress.json`` after each flushed chunk. An interrupted run (Ctrl-C, a
killed process) continues from the last recorded chunk when started again with the same
key (corpus checksum, encoder spec, size). The finished file is renamed to ``NAME.npy``
beside a ``NAME.json`` holding its key, so a later build with the same corpus and encoder
(another FAISS index type, say) reuses it without encoding anything.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm

from sleuth.atomic import write_text_atomic
from sleuth.config import default_cache_dir
from sleuth.retrieval.base import RowStore
from sleuth.retrieval.bm25 import passage_text

logger = logging.getLogger(__name__)


class PassageEncoder(Protocol):
    """What encode_store needs from an encoder."""

    dim: int

    def encode_passages(self, texts: list[str]) -> Any: ...


def default_embeddings_dir() -> Path:
    return default_cache_dir() / "embeddings"


def cache_name(corpus_sha256: str, encoder_name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_name)[-60:]
    return f"{corpus_sha256[:16]}-{slug}"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, sort_keys=True))


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def encode_store(
    encoder: PassageEncoder,
    store: RowStore,
    path: Path,
    key: dict[str, Any],
    *,
    chunk: int = 1024,
    progress: bool = True,
    text_of: Callable[[int], str] | None = None,
) -> Any:
    """Embeddings of every passage in ``store``, as a read-only memory map of ``path``.

    ``key`` identifies what the vectors are of (corpus sha256, encoder spec); a cached or
    partial file with another key is ignored and overwritten.
    """
    n, dim = len(store), encoder.dim
    key = {**key, "rows": n, "dim": dim}
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = path.with_suffix(".json")
    if path.is_file() and _read_json(meta) == key:
        logger.info("reusing cached embeddings %s", path)
        return np.load(path, mmap_mode="r")
    partial = path.with_name(path.stem + ".partial.npy")
    progress_file = path.with_name(path.stem + ".progress.json")
    done = _resume_point(partial, progress_file, key, (n, dim))
    mode = "r+" if done else "w+"
    vectors = np.lib.format.open_memmap(partial, mode=mode, dtype=np.float32, shape=(n, dim))
    text_of = text_of or (lambda row: passage_text(store.by_row(row)))
    with tqdm(total=n, initial=done, desc="encoding passages", unit=" passages",
              file=sys.stderr, disable=not progress, mininterval=1.0) as bar:
        for start in range(done, n, chunk):
            stop = min(start + chunk, n)
            vectors[start:stop] = encoder.encode_passages([text_of(r) for r in range(start, stop)])
            vectors.flush()
            _write_json(progress_file, {"key": key, "done": stop})
            bar.update(stop - start)
    del vectors
    os.replace(partial, path)
    _write_json(meta, key)
    progress_file.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def _resume_point(partial: Path, progress_file: Path, key: dict[str, Any],
                  shape: tuple[int, int]) -> int:
    state = _read_json(progress_file)
    if not partial.is_file() or state is None or state.get("key") != key:
        return 0
    try:
        existing = np.load(partial, mmap_mode="r")
    except (OSError, ValueError):
        return 0
    if existing.shape != shape or existing.dtype != np.float32:
        return 0
    done = int(state.get("done", 0))
    if done:
        logger.info("resuming encoding at passage %d of %d", done, shape[0])
    return done


__all__ = ["PassageEncoder", "cache_name", "default_embeddings_dir", "encode_store"]
