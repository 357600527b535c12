"""``sleuth eval run`` as a real subprocess: SIGKILL mid-run, then --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

RESULTS = "results.jsonl"


def _cmd(sandbox: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sleuth", "eval", "run", "--dataset", "hotpotqa-sandbox",
            "--method", "search-r1", "--limit", "4", "--engine", "scripted",
            "--sandbox", str(sandbox), "--out", str(out), "--no-progress", *extra]


def _complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_killed_run_resumes_to_exactly_the_questions(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    results = out / RESULTS
    proc = subprocess.Popen(_cmd(eval_sandbox_dir, out, "--scripted-delay", "0.5"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _complete_lines(results) < 1:
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, "no result appeared"
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = results.read_bytes()
    done_before = before.count(b"\n")
    assert 1 <= done_before < 4

    resumed = subprocess.run(_cmd(eval_sandbox_dir, out, "--resume"), check=False, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{4 - done_before} run, {done_before} already done" in resumed.stdout
    data = results.read_bytes()
    assert data.endswith(b"\n") and data.startswith(before[: before.rfind(b"\n") + 1])
    rows = [json.loads(line) for line in data.decode().splitlines()]  # no partial lines
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 4


def test_cli_errors_are_one_clear_line(eval_sandbox_dir: Path, tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "sleuth", "eval", "run", "--dataset", "hotpot-wrong",
         "--method", "search-r1", "--out", str(tmp_path / "x"), "--engine", "scripted"],
        check=False, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == 2 and "Unknown dataset 'hotpot-wrong'" in bad.stderr
    assert "musique-mini" in bad.stderr and "Traceback" not in bad.stderr
    out = tmp_path / "r"
    first = subprocess.run(_cmd(eval_sandbox_dir, out, "--limit", "1"), check=False, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    other = subprocess.run(_cmd(eval_sandbox_dir, out, "--limit", "1", "--mask-gold", "0.5",
                                "--resume"), check=False, capture_output=True, text=True, timeout=300)
    assert other.returncode == 1 and "config.mask_gold: 0.0 -> 0.5" in other.stderr
    moved = subprocess.run(_cmd(eval_sandbox_dir, out, "--limit", "1", "--skip", "1", "--resume"),
                           check=False, capture_output=True, text=True, timeout=300)
    assert moved.returncode == 1 and "config.skip: 0 -> 1" in moved.stderr
    negative = subprocess.run(_cmd(eval_sandbox_dir, tmp_path / "n", "--skip", "-1"), check=False,
                              capture_output=True, text=True, timeout=300)
    assert negative.returncode == 2 and "Traceback" not in negative.stderr
    assert "Invalid eval settings" in negative.stderr and "greater than or equal to 0" in negative.stderr
    assert not (tmp_path / "n").exists()
    lone = subprocess.run(_cmd(eval_sandbox_dir, out, "--limit", "1", "--retry-errors"), check=False,
                          capture_output=True, text=True, timeout=300)
    assert lone.returncode != 0 and "--retry-errors needs --resume" in lone.stderr


@pytest.mark.parametrize("command", [["eval", "--help"], ["eval", "run", "--help"],
                                     ["eval", "report", "--help"], ["eval", "calibrate-judge", "--help"]])
def test_help_shows_an_example(command: list[str]) -> None:
    out = subprocess.run([sys.executable, "-m", "sleuth", *command], check=False, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "example" in out.stdout
