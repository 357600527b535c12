"""Model assembly from split wheels: real hashing, real files, tiny fake parts."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from sleuth.engines.model_files import (
    MODELS,
    ModelPart,
    ModelSpec,
    assemble_model,
    ensure_model,
    locate_part,
    models_dir,
    resolve_model_path,
)
from sleuth.errors import ConfigError, ModelFileError

PIECES = [b"GGUF-head-", b"middle-\x00\x01\x02-", b"tail"]


def _fake_spec(site: Path, pieces: list[bytes], prefix: str) -> ModelSpec:
    """Install ``pieces`` as packages ``<prefix>1..N`` under ``site`` and describe them."""
    parts = []
    for n, data in enumerate(pieces, start=1):
        pkg = site / f"{prefix}{n}"
        (pkg / "data").mkdir(parents=True)
        # Importing the package would fail loudly: assembly must never import it.
        (pkg / "__init__.py").write_text("raise RuntimeError('imported a data-only part')\n")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(data)
        parts.append(
            ModelPart(
                package=f"{prefix}{n}",
                relpath=f"data/part{n:02d}.bin",
                distribution=f"{prefix.replace('_', '-')}{n}",
                version="1.0",
            )
        )
    return ModelSpec(
        name=prefix,
        filename=f"{prefix}.gguf",
        sha256=hashlib.sha256(b"".join(pieces)).hexdigest(),
        parts=tuple(parts),
    )


@pytest.fixture
def fake_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> ModelSpec:
    site = tmp_path / "site"
    site.mkdir()
    # A unique prefix per test: find_spec results are cached per process by name.
    prefix = f"sleuthfake_{request.node.name.replace('[', '_').replace(']', '')}_part"
    spec = _fake_spec(site, PIECES, prefix)
    monkeypatch.syspath_prepend(str(site))
    return spec


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_assembles_parts_in_order_and_writes_sidecar(fake_spec: ModelSpec, tmp_path: Path) -> None:
    out = tmp_path / "models"
    path = assemble_model(fake_spec, out, progress=False)
    assert path == out / fake_spec.filename
    assert path.read_bytes() == b"".join(PIECES)
    sidecar = json.loads((out / f"{fake_spec.filename}.sha256").read_text())
    assert sidecar["sha256"] == fake_spec.sha256
    assert sidecar["size"] == len(b"".join(PIECES))
    assert _leftovers(out) == []


def test_tampered_part_is_refused_and_nothing_is_left(fake_spec: ModelSpec, tmp_path: Path) -> None:
    part = locate_part(fake_spec.parts[1])
    assert part is not None
    part.write_bytes(b"middle-\x00\x01\x03-")  # one byte differs, same size
    out = tmp_path / "models"
    with pytest.raises(ModelFileError) as info:
        assemble_model(fake_spec, out, progress=False)
    assert "sha256" in info.value.message
    assert info.value.hint is not None and "--force-reinstall" in info.value.hint
    assert fake_spec.parts[0].requirement in info.value.hint
    assert not (out / fake_spec.filename).exists()
    assert _leftovers(out) == []


def test_missing_part_names_the_install_fix(fake_spec: ModelSpec, tmp_path: Path) -> None:
    part = locate_part(fake_spec.parts[2])
    assert part is not None
    part.unlink()
    with pytest.raises(ModelFileError) as info:
        ensure_model(fake_spec, tmp_path / "models", progress=False)
    assert fake_spec.parts[2].requirement in info.value.message
    assert info.value.details["missing"] == [fake_spec.parts[2].requirement]
    assert info.value.hint == "pip install 'sleuth[embedded]'"
    assert "hint: pip install 'sleuth[embedded]'" in str(info.value)


def test_cached_file_is_trusted_by_its_sidecar(fake_spec: ModelSpec, tmp_path: Path) -> None:
    out = tmp_path / "models"
    first = ensure_model(fake_spec, out, progress=False)
    for part in fake_spec.parts:  # the wheels may be gone once the model is cached
        located = locate_part(part)
        assert located is not None
        located.unlink()
    assert ensure_model(fake_spec, out, progress=False) == first


def test_cached_file_without_sidecar_is_rehashed(fake_spec: ModelSpec, tmp_path: Path) -> None:
    out = tmp_path / "models"
    path = ensure_model(fake_spec, out, progress=False)
    sidecar = out / f"{fake_spec.filename}.sha256"
    sidecar.unlink()
    assert ensure_model(fake_spec, out, progress=False) == path
    assert json.loads(sidecar.read_text())["sha256"] == fake_spec.sha256


def test_corrupt_cached_file_is_refused_with_delete_hint(fake_spec: ModelSpec, tmp_path: Path) -> None:
    out = tmp_path / "models"
    path = ensure_model(fake_spec, out, progress=False)
    data = bytearray(path.read_bytes())
    data[3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as info:
        ensure_model(fake_spec, out, progress=False)
    assert info.value.hint is not None and f"delete {path}" in info.value.hint
    assert info.value.details["expected"] == fake_spec.sha256


def test_model_setting_may_be_a_gguf_path(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_model_path(str(gguf)) == gguf
    with pytest.raises(ModelFileError, match="does not exist"):
        resolve_model_path(str(tmp_path / "absent.gguf"))
    with pytest.raises(ConfigError) as info:
        resolve_model_path("qwen-9000")
    assert info.value.hint is not None and "qwen2.5-coder-0.5b" in info.value.hint


def test_cache_dir_follows_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEUTH_CACHE_DIR", str(tmp_path / "c"))
    assert models_dir() == tmp_path / "c" / "models"
    assert models_dir(tmp_path / "explicit") == tmp_path / "explicit" / "models"


@pytest.mark.model
def test_real_small_model_assembles_and_verifies(tmp_path: Path) -> None:
    spec = MODELS["qwen2.5-coder-0.5b"]
    if any(locate_part(part) is None for part in spec.parts):
        pytest.skip("the embedded model wheels are not installed (pip install 'sleuth[embedded]')")
    path = resolve_model_path(spec.name, tmp_path, progress=False)
    assert path == tmp_path / "models" / spec.filename
    assert path.stat().st_size > 300_000_000
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)
    assert _leftovers(path.parent) == []
