"""CLI behaviour that needs no model: help texts, user errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sleuth.cli import SUBCOMMANDS


def _sleuth(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sleuth", *args], capture_output=True, text=True, check=False,
                          cwd=cwd, timeout=120)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_subcommand_has_help_with_an_example(command: str) -> None:
    out = _sleuth(command, "--help")
    assert out.returncode == 0, out.stderr
    assert "example:" in out.stdout


def test_missing_index_is_a_clear_error_without_traceback(tmp_path: Path) -> None:
    out = _sleuth("ask", "who?", "--index", str(tmp_path / "nope"))
    assert out.returncode == 2
    assert "error:" in out.stderr and "Traceback" not in out.stderr


def test_negative_follow_links_is_a_user_error(tmp_path: Path) -> None:
    out = _sleuth("ask", "who?", "--index", str(tmp_path), "--follow-links", "-1")
    assert out.returncode == 2 and "--follow-links must be 0 or more" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("flag", ["--option", "--set"])
def test_bad_method_option_is_a_user_error(tmp_path: Path, flag: str) -> None:
    out = _sleuth("ask", "who?", "--index", str(tmp_path), flag, "novalue")
    assert out.returncode == 2 and "'novalue' is not KEY=VALUE" in out.stderr


def test_method_options_are_parsed_the_same_for_ask_and_eval() -> None:
    from sleuth.cli.ask import parse_options
    from sleuth.cli.eval import parse_options as eval_parse_options

    parsed = parse_options(["top-k=5", 'gate={"kind": "agreement"}', "on_unsupported=best-draft"])
    assert parsed == {"top_k": 5, "gate": {"kind": "agreement"}, "on_unsupported": "best-draft"}
    assert eval_parse_options is parse_options


def test_judge_flags_give_the_judge_an_engine_of_its_own() -> None:
    """``--judge-*``: unset parts come from the main engine (or ``[roles.judge]``), a base URL
    alone means an OpenAI-compatible server, and no flag means no judge role."""
    from argparse import Namespace

    from sleuth.cli.judge_args import judge_engine_config, judge_flags, judge_settings
    from sleuth.config import SleuthSettings
    from sleuth.evals.rundir import EngineConfig

    def flags(**kw: str) -> Namespace:
        return Namespace(**{"judge_engine": None, "judge_model": None, "judge_base_url": None, **kw})

    main = EngineConfig(kind="embedded", model="qwen2.5-coder-1.5b")
    assert judge_engine_config(flags(), main) == main
    served = judge_engine_config(flags(judge_base_url="http://127.0.0.1:8000/v1", judge_model="Qwen/Qwen2.5-7B"), main)
    assert served.roles["judge"] == EngineConfig(kind="openai", model="Qwen/Qwen2.5-7B", base_url="http://127.0.0.1:8000/v1")
    assert (served.kind, served.model) == ("embedded", "qwen2.5-coder-1.5b")
    printed = judge_flags(served)  # read back for a printed rerun command, it gives the same judge
    assert judge_engine_config(flags(**dict(zip([f[2:].replace("-", "_") for f in printed[::2]], printed[1::2],
                                                strict=True))), main) == served
    assert judge_flags(main) == []
    small = judge_engine_config(flags(judge_model="qwen2.5-coder-0.5b"), main).roles["judge"]
    assert (small.kind, small.model) == ("embedded", "qwen2.5-coder-0.5b")

    settings = SleuthSettings.load(env={"SLEUTH_ENGINE__N_THREADS": "1", "SLEUTH_ROLES__JUDGE__N_CTX": "4096"})
    assert judge_settings(flags(), settings).roles["judge"].n_ctx == 4096
    judge = judge_settings(flags(judge_model="qwen2.5-coder-0.5b"), settings).roles["judge"]
    assert (judge.model, judge.n_ctx, judge.n_threads) == ("qwen2.5-coder-0.5b", 4096, None)
    bare = SleuthSettings.load(env={"SLEUTH_ENGINE__N_THREADS": "1"})
    assert judge_settings(flags(judge_engine="vllm"), bare).roles["judge"].n_threads == 1
