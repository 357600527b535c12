"""The index manifest: what an index directory holds and how it was built.

``manifest.json`` is written last, after every other file has been written and hashed, and
the directory is renamed into place after that; a directory without a manifest is never a
usable index.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from sleuth.atomic import write_text_atomic
from sleuth.errors import IndexCorruptError, IndexNotFoundError
from sleuth.retrieval.bm25 import BM25Params
from sleuth.retrieval.encoder import EncoderSpec
from sleuth.retrieval.faiss_index import FaissSpec
from sleuth.retrieval.hybrid import FusionSpec
from sleuth.types import StrictModel

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
IndexKind = Literal["bm25", "dense", "hybrid"]
BUILD_HINT = "rebuild it with: sleuth index build CORPUS --out DIR"


class CorpusInfo(StrictModel):
    """The corpus an index was built from."""

    path: str
    sha256: str
    size_bytes: int
    passages: int
    skipped_lines: int = 0


class FileEntry(StrictModel):
    """One file of the index, with its size and checksum."""

    size: int
    sha256: str


class DenseManifest(StrictModel):
    """The dense part of an index."""

    encoder: EncoderSpec
    dim: int
    faiss: FaissSpec
    factory: str
    """The ``faiss.index_factory`` string the index was built with."""
    vectors: bool = False
    """Whether ``dense/vectors.npy`` (exact embeddings, for IVF-PQ re-ranking) is present."""


class IndexManifest(StrictModel):
    """Contents of ``manifest.json``. Backend sections hold each backend's own settings."""

    format_version: int = FORMAT_VERSION
    kind: IndexKind
    sleuth_version: str
    created: str
    corpus: CorpusInfo
    bm25: BM25Params | None = None
    """BM25 parameters and tokenisation, when the index has a BM25 part."""
    dense: DenseManifest | None = None
    """Encoder and FAISS settings, when the index has a dense part."""
    fusion: FusionSpec | None = None
    """How a hybrid index fuses its parts."""
    files: dict[str, FileEntry] = Field(default_factory=dict)
    """Path relative to the index directory -> size and sha256."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def describe_files(directory: Path) -> dict[str, FileEntry]:
    """Size and sha256 of every regular file under ``directory`` except the manifest."""
    entries: dict[str, FileEntry] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name != MANIFEST:
            rel = path.relative_to(directory).as_posix()
            entries[rel] = FileEntry(size=path.stat().st_size, sha256=sha256_file(path))
    return entries


def write_manifest(directory: Path, manifest: IndexManifest) -> None:
    """Write ``manifest.json`` durably (temp file, fsync, rename)."""
    write_text_atomic(directory / MANIFEST, manifest.model_dump_json(indent=2))


def read_manifest(directory: str | Path) -> IndexManifest:
    """Read and validate ``DIR/manifest.json``, with clear errors for what is missing."""
    directory = Path(directory)
    if not directory.exists():
        raise IndexNotFoundError(
            f"No index at {directory}",
            hint="build one with: sleuth index build CORPUS --out DIR",
            path=str(directory),
        )
    if not directory.is_dir():
        raise IndexNotFoundError(f"{directory} is a file, not an index directory", path=str(directory))
    path = directory / MANIFEST
    if not path.is_file():
        raise IndexCorruptError(
            f"{directory} has no {MANIFEST}: the build did not finish, or it is not a Sleuth index",
            hint=BUILD_HINT,
            path=str(directory),
        )
    try:
        manifest = IndexManifest.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise IndexCorruptError(f"Unreadable {path}: {exc}", hint=BUILD_HINT, path=str(path)) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexCorruptError(
            f"{directory} uses index format {manifest.format_version}; this Sleuth reads "
            f"format {FORMAT_VERSION}",
            hint=BUILD_HINT,
            path=str(directory),
        )
    return manifest


def check_files(directory: Path, manifest: IndexManifest, verify: bool = False) -> None:
    """Every listed file exists with its recorded size (and sha256 when ``verify``)."""
    for rel, entry in manifest.files.items():
        path = directory / rel
        if not path.is_file():
            raise IndexCorruptError(
                f"{directory} is missing {rel}", hint=BUILD_HINT, path=str(path)
            )
        size = path.stat().st_size
        if size != entry.size:
            raise IndexCorruptError(
                f"{path} has {size} bytes, the manifest says {entry.size}",
                hint=BUILD_HINT,
                path=str(path),
            )
        if verify and sha256_file(path) != entry.sha256:
            raise IndexCorruptError(
                f"{path} fails its sha256 check", hint=BUILD_HINT, path=str(path)
            )


__all__ = [
    "MANIFEST",
    "CorpusInfo",
    "DenseManifest",
    "FileEntry",
    "IndexKind",
    "IndexManifest",
    "check_files",
    "describe_files",
    "read_manifest",
    "sha256_file",
    "write_manifest",
]
