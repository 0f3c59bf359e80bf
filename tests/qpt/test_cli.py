"""The `qpt` command: help that lists every verb, one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qpt.cli import VERBS, main


def _main(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_every_verb(capsys) -> None:
    code, out, _ = _main(capsys, "--help")
    assert code == 0
    for verb in [*VERBS, "run"]:
        assert f" {verb} " in out


@pytest.mark.parametrize("verb", [*VERBS, "run"])
def test_every_verb_has_help(capsys, verb: str) -> None:
    code, out, _ = _main(capsys, verb, "--help")
    assert code == 0
    assert "Usage" in out and f"qpt {verb}" in out


def test_console_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "qpt", "--version"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.startswith("qpt ")


def test_cli_asks_torch_for_huge_pages_unless_the_user_chose(
    capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    assert _main(capsys, "--version")[0] == 0
    assert os.environ["THP_MEM_ALLOC_ENABLE"] == "1"
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "0")
    _main(capsys, "--version")
    assert os.environ["THP_MEM_ALLOC_ENABLE"] == "0"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--seed", "x"], "--seed"),
        (["run", "--bogus"], "No such option: --bogus"),
        (["nosuchverb"], "No such command"),
        (["run", "nope"], "unknown pipeline 'nope'"),
        (["run", "--set", "b.value"], "STAGE.PARAM=VALUE"),
        (["run", "--set", "b.value=many"], "value"),
        (["run", "--until", "zz"], "--until 'zz'"),
    ],
)
def test_user_mistakes_are_one_line_exit_2(
    capsys, pipelines_file: Path, argv: list[str], fragment: str
) -> None:
    code, out, err = _main(capsys, *argv, "--config", str(pipelines_file))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_malformed_toml_names_the_file(capsys, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline.x\n")
    code, _, err = _main(capsys, "run", "--config", str(bad))
    assert code == 2
    assert str(bad) in err and "not valid TOML" in err and len(err.strip().splitlines()) == 1


def test_run_json_reports_statuses_and_resume(capsys, pipelines_file: Path) -> None:
    code, out, _ = _main(capsys, "run", "--config", str(pipelines_file), "--json")
    assert code == 0
    first = json.loads(out)
    assert [s["status"] for s in first["stages"].values()] == ["done"] * 3
    code, out, _ = _main(capsys, "run", "--config", str(pipelines_file), "--json")
    assert [s["status"] for s in json.loads(out)["stages"].values()] == ["skipped"] * 3


def test_list_shows_pipelines(capsys, pipelines_file: Path) -> None:
    code, _, err = _main(capsys, "run", "--list", "--config", str(pipelines_file))
    assert code == 0
    assert "chain (default)" in err and "grandchild" in err
    assert "recipes" not in err  # the test file has none


def test_list_shows_the_shipped_recipes(capsys) -> None:
    shipped = Path(__file__).resolve().parents[2] / "pipelines.toml"
    code, _, err = _main(capsys, "run", "--list", "--config", str(shipped))
    assert code == 0 and "recipes" in err and "hivit-base-8gpu" in err.split("recipes")[1]


def test_bench_speed_lists_each_stage_benchmark(capsys) -> None:
    code, out, _ = _main(capsys, "bench", "speed", "--help")
    assert code == 0
    for name in ("degrade", "curate", "pretrain", "all"):
        assert f" {name} " in out


def test_bench_speed_on_a_missing_gpu_is_a_one_line_error(capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    code, _, err = _main(capsys, "bench", "speed", "degrade", "--device", "cuda", "--batch", "2")
    assert code == 2
    assert err.strip().splitlines() == ["error: degrade speed: CUDA requested but not available"]


def test_bench_speed_degrade_calls_counts_and_names_a_bad_preset(capsys) -> None:
    code, _, err = _main(capsys, "bench", "speed", "degrade-calls", "--preset", "bogus")
    assert code == 2
    assert err.strip().splitlines()[0].startswith("error: unknown preset 'bogus'")
    argv = ["--preset", "qpt-v2", "--batch", "4", "--size", "32", "--seeds", "1", "--json"]
    code, out, _ = _main(capsys, "bench", "speed", "degrade-calls", *argv)
    assert code == 0
    (row,) = json.loads(out)["degrade_calls"]
    assert row["preset"] == "qpt-v2" and row["calls"] >= 1 and row["kernels"] >= row["calls"]
