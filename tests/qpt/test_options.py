"""Verb options generated from the parameter models: names, defaults, conversion and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
import typer
from pydantic import BaseModel, ConfigDict, Field
from typer.testing import CliRunner

from qpt.cli import app, main
from qpt.options import flags_of, model_options, validate_params


class Toy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(8, ge=1, description="Side.")
    ratio: float | None = Field(0.5, gt=0.0, description="A ratio.")
    mode: Literal["a", "b"] = Field("a", description="Which.")
    flag: bool = Field(True, description="Switch.")
    tags: list[str] = Field([], description="Tag.", json_schema_extra={"cli": "--tag"})
    pair: tuple[float, float] = Field((0.9, 0.95), description="Two numbers.")


def _toy_app(seen: list[dict[str, Any]]) -> typer.Typer:
    toy = typer.Typer()

    @toy.command()
    @model_options(Toy)
    def run(*, given: dict[str, Any]) -> None:
        seen.append(given)
        validate_params(Toy, given, given)

    return toy


def test_only_typed_options_reach_the_model_converted() -> None:
    seen: list[dict[str, Any]] = []
    runner = CliRunner()
    assert runner.invoke(_toy_app(seen), []).exit_code == 0
    args = ["--size", "3", "--ratio", "none", "--no-flag", "--tag", "x", "--tag", "y"]
    args += ["--pair", "[0.1, 0.2]", "--mode", "b"]
    assert runner.invoke(_toy_app(seen), args).exit_code == 0
    assert seen[0] == {}
    assert seen[1] == {
        "size": 3, "ratio": None, "flag": False, "tags": ["x", "y"], "pair": [0.1, 0.2], "mode": "b"
    }  # fmt: skip


def test_help_shows_the_model_defaults_and_descriptions() -> None:
    result = CliRunner().invoke(_toy_app([]), ["--help"], env={"COLUMNS": "200"})
    out = result.output
    assert "--size" in out and "Side." in out and "[default: 8]" in out
    assert "--flag" in out and "--no-flag" in out and "--tag" in out and "Repeatable" in out
    assert "(none: off)" in out  # the optional ratio can be switched off


def test_errors_name_the_option_as_typed() -> None:
    with pytest.raises(ValueError, match=r"^--size: Input should be greater than or equal to 1$"):
        validate_params(Toy, {"size": 0}, ["size"])
    with pytest.raises(ValueError, match=r"^size: "):  # not typed: the key, as in a table
        validate_params(Toy, {"size": 0})
    assert flags_of("tags", Toy.model_fields["tags"]) == ["--tag"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["curate", "--max-aspect", "-3"], "error: --max-aspect: Input should be greater than 1"),
        (["curate", "--min-pixels", "x"], "error: --min-pixels: Input should be a valid integer"),
        (["shard", "m.parquet", "--jpeg-quality", "50"], "error: --jpeg-quality: Input should"),
        (["bench", "run", "livec", "-c", "random:hivit_nano", "--splits", "0"], "error: --splits:"),
        (
            ["bench", "run", "livec", "-c", "random:hivit_nano", "--max-items", "0"],
            "error: --max-items: Input should be greater than or equal to 10 (none switches it",
        ),
        (["degrade", "in", "out", "--copies", "0"], "error: --copies: Input should be greater"),
        (["pretrain", "--steps", "0", "--show"], "error: --steps: Input should be greater"),
        (
            ["finetune", "s.csv", "-o", "o", "-c", "handcrafted", "--max-items", "0"],
            "error: --max-items: Input should be greater than or equal to 10 (none switches it",
        ),
        (["finetune", "s.csv", "-o", "o", "-c", "x", "--head", "knn"], "error: --head: Input"),
        (["score", "a.png", "-m", "s", "--batch-size", "0"], "error: --batch-size: Input should"),
        (["score", "a.png"], "error: score: no --model given"),
    ],
)
def test_every_verb_says_which_option_is_wrong(argv, expected, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(expected) and "\n" not in err and "pydantic" not in err


def test_a_bad_value_is_exactly_one_line_naming_the_option(capsys) -> None:
    assert main(["curate", "--max-aspect", "-3"]) == 2
    assert capsys.readouterr().err == "error: --max-aspect: Input should be greater than 1\n"


def test_model_level_errors_name_the_missing_option(capsys) -> None:
    assert main(["curate", "--source", "laion", "--path", "x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--metadata" in err


def test_verb_options_are_the_model_fields() -> None:
    """Each model field is an option of its verb: no hand-kept option lists."""
    from bench.fit_stage import FinetuneParams
    from bench.params import BenchParams
    from bench.score_stage import ScoreParams
    from curate.params import CurateParams, ShardParams
    from degrade.params import DegradeParams
    from train.config import PretrainParams

    group = typer.main.get_command(app)
    ctx = typer.Context(group)
    verbs = {
        "curate": (group.get_command(ctx, "curate"), CurateParams, set()),
        "shard": (group.get_command(ctx, "shard"), ShardParams, {"manifest"}),
        "pretrain": (group.get_command(ctx, "pretrain"), PretrainParams, set()),
        "bench": (group.get_command(ctx, "bench"), BenchParams, {"datasets"}),
        "bench run": (
            group.get_command(ctx, "bench").get_command(ctx, "run"),
            BenchParams,
            {"datasets"},
        ),
        "degrade run": (
            group.get_command(ctx, "degrade").get_command(ctx, "run"),
            DegradeParams,
            {"input_dir"},
        ),
        "finetune": (group.get_command(ctx, "finetune"), FinetuneParams, {"dataset"}),
        "score": (group.get_command(ctx, "score"), ScoreParams, {"paths", "k"}),
    }
    for verb, (command, model, excluded) in verbs.items():
        options = {o for p in command.params for o in p.opts + p.secondary_opts}
        for name, field in model.model_fields.items():
            if name in excluded:
                continue
            for flag in flags_of(name, field)[0].split("/"):
                assert flag in options, f"qpt {verb}: {flag} ({name}) missing"


def test_finetune_flags_reach_their_fields(monkeypatch, tmp_path) -> None:
    """``--batch-size`` is the fine-tuning batch; the verb's own options stay out of the model."""
    import bench.fit_stage

    seen = []

    def record(params, out_dir, *, seed, console):
        seen.append((params, out_dir, seed))
        return {}

    monkeypatch.setattr(bench.fit_stage, "fit_scorer_folder", record)
    argv = ["finetune", "s.csv", "-o", str(tmp_path), "-c", "handcrafted", "--batch-size", "8",
            "--view-batch-size", "4", "--photos", "pics", "--max-items", "none", "--seed", "3",
            "--lower-better"]  # fmt: skip
    assert main(argv) == 0
    ((params, out_dir, seed),) = seen
    assert (params.finetune_batch_size, params.batch_size) == (8, 4)
    assert (params.synthetic_photos, params.max_items, params.lower_better) == ("pics", None, True)
    assert (params.dataset, params.checkpoint, seed) == ("s.csv", "handcrafted", 3)
    assert out_dir == tmp_path


def test_help_and_listing_do_not_import_torch() -> None:
    """Options come from pydantic models only; torch loads when a verb or a pipeline runs."""
    import subprocess
    import sys

    code = (
        "import sys; from qpt.cli import main; main(['--help']); "
        "main(['curate', '--help']); main(['pretrain', '--help']); main(['bench', '--help']); "
        "main(['run', '--list']); print('torch' in sys.modules)"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo
    )
    assert out.stdout.strip().splitlines()[-1] == "False"
