"""The package type-checks under mypy --strict, as users import it (scripts/typecheck.sh)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is in the dev extra")
def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run(["bash", str(REPO / "scripts" / "typecheck.sh")], capture_output=True,
                          text=True, timeout=600, check=False,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success: no issues found" in proc.stdout
