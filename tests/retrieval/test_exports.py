"""The retrieval package's public names, and that importing it loads no optional extra."""

from __future__ import annotations

import subprocess
import sys

import sleuth.retrieval


def test_every_exported_name_resolves() -> None:
    for name in sleuth.retrieval.__all__:
        assert getattr(sleuth.retrieval, name) is not None, name
    assert sorted(sleuth.retrieval.__all__) == sorted(set(sleuth.retrieval.__all__))


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, sleuth.retrieval; "
        "print([m for m in ('faiss', 'torch', 'sentence_transformers', 'fastapi', 'uvicorn', "
        "'rank_bm25', 'numba') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
