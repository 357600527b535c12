"""Atomic writes: the target holds the old content or the new, and no temporary file is left."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sleuth.atomic import building_directory, replace_directory, write_text_atomic


def test_writes_text_and_lines_and_creates_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b.json"
    write_text_atomic(target, '{"x": 1}')
    assert target.read_text(encoding="utf-8") == '{"x": 1}'
    write_text_atomic(target, (f"{i}\n" for i in range(3)))
    assert target.read_text(encoding="utf-8") == "0\n1\n2\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["b.json"]


def test_a_failure_part_way_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "rows.jsonl"
    write_text_atomic(target, "old\n")

    def lines() -> Iterator[str]:
        yield "new 1\n"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(target, lines())
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rows.jsonl"]


def test_new_files_get_the_usual_mode_and_rewrites_keep_theirs(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        write_text_atomic(fresh, "{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644  # not mkstemp's 0600
        fresh.chmod(0o640)
        write_text_atomic(fresh, "[]")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    finally:
        os.umask(umask)


def test_replace_directory_swaps_in_the_new_tree(tmp_path: Path) -> None:
    out = tmp_path / "index"
    for content in ("first", "second"):
        tmp = tmp_path / f"build-{content}"
        tmp.mkdir()
        (tmp / "data").write_text(content, encoding="utf-8")
        replace_directory(tmp, out)
        assert (out / "data").read_text(encoding="utf-8") == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_building_directory_replaces_out_only_when_the_build_finishes(tmp_path: Path) -> None:
    out = tmp_path / "built"
    with building_directory(out, mode=0o755) as tmp:
        assert tmp.parent == tmp_path and tmp != out and not out.exists()
        (tmp / "data").write_text("first", encoding="utf-8")
    assert (out / "data").read_text(encoding="utf-8") == "first"
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    with pytest.raises(RuntimeError, match="interrupted"), building_directory(out) as tmp:
        (tmp / "data").write_text("second", encoding="utf-8")
        raise RuntimeError("interrupted")
    assert (out / "data").read_text(encoding="utf-8") == "first"  # the old tree stays whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built"]  # and nothing half-built is left
