"""The files of an eval run directory, written so that a kill at any moment loses nothing.

::

    DIR/run.json        config, versions, dataset checksum, sandbox fingerprint (atomic write)
    DIR/results.jsonl   one finished question per line, appended with one write + fsync

A kill can at worst leave a torn last line (no trailing newline). :meth:`ResultsFile.recover`
truncates it, so the question is simply run again; complete lines are never touched.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from sleuth.atomic import write_text_atomic
from sleuth.errors import EvalError, ResumeMismatchError
from sleuth.types import EngineRole, StrictModel

RUN_FILE = "run.json"
RESULTS_FILE = "results.jsonl"


class EngineConfig(StrictModel):
    kind: Literal["embedded", "openai", "vllm", "scripted"] = "embedded"
    """``scripted`` is a deterministic test double (see :mod:`sleuth.evals.scripted`)."""
    model: str = "qwen2.5-coder-1.5b"
    base_url: str | None = None
    scripted_delay_s: float = Field(default=0.0, ge=0.0)
    """Test double only: seconds each scripted reply takes."""
    roles: dict[EngineRole, EngineConfig] = Field(default_factory=dict)
    """Engines of their own for some calls (``{"judge": ...}``: EvidenceLoop's verifier), each
    with this engine's other settings; a role with no entry uses this engine."""

    @model_validator(mode="after")
    def _flat_roles(self) -> EngineConfig:
        if any(role.roles for role in self.roles.values()):
            raise ValueError("a role's engine cannot have roles of its own")
        return self

    def describe(self) -> str:
        """``"embedded qwen2.5-coder-1.5b"``, with each role's engine: ``"...; judge: openai M"``."""
        own = f"{self.kind} {self.model}"
        return own + "".join(f"; {role}: {engine.describe()}" for role, engine in self.roles.items())


class RunConfig(StrictModel):
    """Everything that decides a run's results. ``concurrency`` and paths may change on resume."""

    dataset: str
    method: str
    options: dict[str, Any] = Field(default_factory=dict)
    """The method's options (validated by its options model)."""
    limit: int | None = Field(default=None, ge=1)
    skip: int = Field(default=0, ge=0)
    """Questions left out from the dataset's start: ``skip=40, limit=20`` runs questions
    41-60, so that processes can share a dataset and their runs be joined in a report."""
    mask_gold: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of questions whose gold evidence is hidden from the agent."""
    mask_seed: int = 0
    follow_links: int = Field(default=0, ge=0, le=10)
    """Linked pages each search adds to its hits (see :mod:`sleuth.sandboxes.links`)."""
    engine: EngineConfig = Field(default_factory=EngineConfig)
    sandbox: str | None = None
    index: str | None = None
    timeout_s: float = Field(default=600.0, gt=0)
    """Seconds one question may take before it is recorded as a timeout."""
    concurrency: int = Field(default=1, ge=1)
    data_dir: str | None = None


RESUME_FREE: dict[str, Any] = {
    "concurrency": True, "data_dir": True, "sandbox": True, "index": True,
    "engine": {"scripted_delay_s"},
}
"""Fields that may differ on resume: they do not change results (paths' content is
fingerprinted separately, and a test double's delay is only timing)."""


class DatasetInfo(StrictModel):
    name: str
    path: str
    sha256: str
    n_examples: int
    n_selected: int


class SandboxInfo(StrictModel):
    path: str
    source_sha256: str
    n_paragraphs: int
    index_kind: str


class RunManifest(StrictModel):
    config: RunConfig
    dataset: DatasetInfo
    sandbox: SandboxInfo | None = None
    versions: dict[str, str] = Field(default_factory=dict)
    created: float = 0.0
    command: list[str] = Field(default_factory=list)
    extended: list[dict[str, Any]] = Field(default_factory=list)
    """Each resume that raised ``--limit``: old and new limit, time, command."""
    replayed_from: str | None = None
    """Set on a directory ``sleuth eval replay-verify --out`` wrote: the run it re-scored from
    recorded traces under ``config.options`` (no model ran; it cannot be resumed)."""
    reruns: list[str] = Field(default_factory=list)
    """On a replay: the run directories (``--rerun``) whose answers stand in for the questions
    the replay alone could not decide."""

    def identity(self) -> dict[str, Any]:
        """The flat key -> value view compared on resume."""
        config = self.config.model_dump(mode="json", exclude=RESUME_FREE)
        out = {f"config.{k}": v for k, v in _flatten(config).items()}
        out["dataset.sha256"] = self.dataset.sha256
        out["dataset.n_selected"] = self.dataset.n_selected
        if self.sandbox is not None:
            out["sandbox.source_sha256"] = self.sandbox.source_sha256
            out["sandbox.n_paragraphs"] = self.sandbox.n_paragraphs
        return out


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_changes(old: RunManifest, new: RunManifest) -> dict[str, tuple[Any, Any]]:
    """``key -> (old, new)`` for every identity field that differs, by key."""
    a, b = old.identity(), new.identity()
    return {key: (a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)}


def config_diff(old: RunManifest, new: RunManifest) -> list[str]:
    """Lines ``key: old -> new`` for every identity field that differs."""
    return _diff_lines(config_changes(old, new))


def _diff_lines(changes: dict[str, tuple[Any, Any]]) -> list[str]:
    return [f"{key}: {json.dumps(x)} -> {json.dumps(y)}" for key, (x, y) in changes.items()]


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": sys.platform}
    for dist in ("sleuth", "langgraph", "pydantic", "bm25s", "llama_cpp_python", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def read_manifest(out_dir: Path) -> RunManifest:
    path = out_dir / RUN_FILE
    try:
        return RunManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        raise EvalError(f"{path} is unreadable: {exc}", hint="start a new run in another --out",
                        path=str(path)) from exc


def prepare_run_dir(out_dir: Path, manifest: RunManifest, *, resume: bool) -> RunManifest:
    """Create or check ``out_dir``. Returns the manifest in force (the old one on resume)."""
    run_file, results = out_dir / RUN_FILE, out_dir / RESULTS_FILE
    if run_file.exists():
        if not resume:
            raise EvalError(f"{out_dir} already holds a run.",
                            hint="pass --resume to continue it, or choose another --out",
                            path=str(out_dir))
        old = read_manifest(out_dir)
        if old.replayed_from is not None:
            raise EvalError(f"{out_dir} is a replay of {old.replayed_from}, not a run; it cannot be resumed.",
                            hint="resume the original run, then replay it again", path=str(out_dir))
        changes = config_changes(old, manifest)
        if changes and _extends(old, manifest, set(changes)):
            return _extend(run_file, old, manifest)
        if changes:
            diff = _diff_lines(changes)
            raise ResumeMismatchError(
                f"{out_dir} was run with a different config:\n  " + "\n  ".join(diff),
                hint="resume with the original settings (a larger --limit may grow the run), "
                "or choose another --out",
                diff=diff,
            )
        return old
    if results.exists() and results.stat().st_size:
        raise EvalError(f"{results} exists without {RUN_FILE}; it is not a Sleuth run.",
                        path=str(out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_file, manifest.model_dump_json(indent=2))
    return manifest


def _extends(old: RunManifest, new: RunManifest, changed: set[str]) -> bool:
    """``new`` only raises ``limit`` (``changed`` names the identity fields that differ): its
    questions start with all of ``old``'s (the selection is a prefix of the dataset after
    ``skip``, which must match, and masking is drawn per question id), so the finished rows
    stay valid and the run can grow."""
    if changed - {"config.limit", "dataset.n_selected"}:
        return False
    before, after = old.config.limit, new.config.limit
    return before is not None and (after is None or after > before)


def _extend(run_file: Path, old: RunManifest, new: RunManifest) -> RunManifest:
    grown = old.model_copy(deep=True)
    grown.config.limit = new.config.limit
    grown.dataset = new.dataset
    grown.extended.append({"limit": [old.config.limit, new.config.limit], "at": new.created,
                           "command": new.command})
    write_text_atomic(run_file, grown.model_dump_json(indent=2))
    return grown


def latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row for each question id, in the order the ids first appeared."""
    by_id: dict[Any, dict[str, Any]] = {}
    for row in rows:
        by_id[row.get("id")] = row
    return list(by_id.values())


class ResultsFile:
    """``results.jsonl``: recover on open, then append whole lines durably."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def recover(self) -> list[dict[str, Any]]:
        """Drop a torn last line (from a kill mid-write) and return the complete rows."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            with open(self.path, "r+b") as handle:
                handle.truncate(end)
                handle.flush()
                os.fsync(handle.fileno())
        return self._parse(data[:end])

    def rows(self) -> list[dict[str, Any]]:
        """The complete rows, read-only (a run may still be appending)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        return self._parse(data[: data.rfind(b"\n") + 1])

    def current(self) -> list[dict[str, Any]]:
        """One row per question: the last line written for it (a retried question has an
        earlier error line, kept in the file, which this hides)."""
        return latest_rows(self.rows())

    def _parse(self, data: bytes) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for lineno, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalError(f"{self.path}:{lineno} is not a JSON line ({exc.msg}).",
                                hint="the file was edited by hand; start a new run",
                                path=str(self.path), line=lineno) from exc
        return rows

    def append(self, row: dict[str, Any]) -> None:
        """One line, one ``write`` (looped only if the OS writes short), then ``fsync``."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        data = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = [
    "RESULTS_FILE",
    "RUN_FILE",
    "DatasetInfo",
    "EngineConfig",
    "ResultsFile",
    "RunConfig",
    "RunManifest",
    "SandboxInfo",
    "config_changes",
    "config_diff",
    "latest_rows",
    "prepare_run_dir",
    "read_manifest",
    "versions",
]
