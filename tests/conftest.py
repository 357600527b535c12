"""Shared fixtures: paths to ../shared/data and tiny real components loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    explicit = os.environ.get("SLEUTH_SHARED_DATA")
    return Path(explicit) if explicit else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not path.is_dir():
        pytest.fail(f"shared data not found at {path}; set SLEUTH_SHARED_DATA")
    return path


@pytest.fixture(scope="session")
def hotpot_corpus(shared_data: Path) -> Path:
    return shared_data / "hotpotqa_sandbox" / "corpus.jsonl.gz"


@pytest.fixture(scope="session")
def hotpot_questions(shared_data: Path) -> Path:
    return shared_data / "hotpotqa_sandbox" / "questions.jsonl.gz"
