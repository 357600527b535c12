"""Package-level guarantees: the public API, the import direction, and import without extras."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import venv
from pathlib import Path

import pytest

import sleuth

REPO = Path(__file__).resolve().parents[1]
LAYERS = {
    # package folder -> sleuth subpackages it must not import
    "sleuth": {"agents", "graphs", "evals", "sandboxes", "engines", "retrieval"},
    "engines": {"agents", "graphs", "evals", "sandboxes"},
    "retrieval": {"agents", "graphs", "evals", "sandboxes", "engines"},
    "sandboxes": {"agents", "graphs", "evals", "engines"},
    "agents": {"graphs", "evals"},
    "graphs": {"evals"},
}
# The root package's public re-exports and the CLI sit at the top; they may import anything.
TOP_LEVEL = {REPO / "sleuth" / "__init__.py", REPO / "sleuth" / "bench.py", REPO / "sleuth" / "__main__.py"}


def test_all_names_resolve() -> None:
    assert len(sleuth.__all__) == len(set(sleuth.__all__))
    for name in sleuth.__all__:
        assert getattr(sleuth, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        sleuth.does_not_exist  # noqa: B018


def _sleuth_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sleuth" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_imports_flow_one_way(layer: str) -> None:
    folder = REPO / layer
    violations = []
    for path in folder.rglob("*.py"):
        if path in TOP_LEVEL or (layer == "sleuth" and "cli" in path.parts):
            continue
        bad = _sleuth_imports(path) & LAYERS[layer]
        if bad:
            violations.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_relative_imports_are_not_used() -> None:
    offenders = []
    for layer in LAYERS:
        for path in (REPO / layer).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(n, ast.ImportFrom) and n.level > 0 for n in ast.walk(tree)):
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders


def test_import_without_extras_in_a_fresh_venv(tmp_path: Path) -> None:
    """Install Sleuth with no extras into a new venv; `import sleuth` and the CLI help work,
    and an engine that needs an extra names the pip command."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CONSTRAINT": str(REPO / "constraints" / "cpu.txt")}
    build = REPO / "build"  # setuptools builds in the source tree; leave no stale copy behind
    had_build = build.exists()
    try:
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], check=True, env=env,
                       cwd=tmp_path, timeout=900)
    finally:
        if not had_build:
            shutil.rmtree(build, ignore_errors=True)
    code = (
        "import sleuth, importlib.util as u\n"
        "assert u.find_spec('llama_cpp') is None and u.find_spec('faiss') is None\n"
        "assert u.find_spec('torch') is None\n"
        "from sleuth.engines.factory import create_engine\n"
        "from sleuth.config import EngineSettings\n"
        "try:\n"
        "    create_engine(EngineSettings(kind='embedded'))\n"
        "except sleuth.MissingExtraError as e:\n"
        "    print('HINT', e.hint)\n"
    )
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "HINT pip install 'sleuth[embedded]'" in out.stdout
    cli = subprocess.run([str(env_dir / "bin" / "sleuth"), "ask", "--help"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120, check=False)
    assert cli.returncode == 0 and "example:" in cli.stdout
    # Every source file lands in the installed package: a subpackage left out of
    # pyproject's list installs fine and fails only when a graph imports it.
    where = subprocess.run([str(py), "-c", "import sleuth, pathlib; print(pathlib.Path(sleuth.__file__).parent)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120, check=True)
    installed = Path(where.stdout.strip())
    missing = [str(path.relative_to(REPO)) for folder, target in _installed_layout().items()
               for path in sorted((REPO / folder).rglob("*")) if _shipped(path)
               and not (installed / target / path.relative_to(REPO / folder)).is_file()]
    assert not missing, f"not installed: {missing}"
    graphs = subprocess.run([str(py), "-c", "import sleuth.graphs.registry as r; print(r.list_methods())"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert graphs.returncode == 0 and "evidence-loop" in graphs.stdout, graphs.stderr


def _installed_layout() -> dict[str, str]:
    """Source folder -> its folder inside the installed ``sleuth`` package."""
    return {folder: "." if folder == "sleuth" else folder for folder in [*LAYERS, "evals"]}


def _shipped(path: Path) -> bool:
    return path.is_file() and path.suffix in {".py", ".txt", ".toml"} and "__pycache__" not in path.parts
