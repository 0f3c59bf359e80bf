"""``qpt bench`` and the ``bench`` pipeline stage, on fixture releases (one video dataset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from bench.params import BenchParams
from qpt.cli import main
from qpt.stage import StageContext
from qpt.stages.bench import run_bench
from tests.bench import releases


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    releases.make_livec(root, n=15)
    releases.make_konvid(root, n=8)
    return root


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """A ``qpt pretrain export`` folder: hivit_nano at 64 px (fast on CPU)."""
    from train.models import create_backbone

    folder = tmp_path_factory.mktemp("pretrain") / "export"
    folder.mkdir()
    torch.manual_seed(3)
    model = create_backbone("hivit_nano", img_size=64)
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "encoder.safetensors"),
    )
    config = {"format_version": 2, "model": "hivit_nano", "model_kwargs": {"img_size": 64}}
    config["img_size"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_bench_all_runs_what_is_found_and_lists_the_rest(root, export, photo_dir, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        ["bench", "--all", "--data-root", str(root), "-c", str(export), "--out", str(out),
         "--splits", "2", "--crops", "2", "--frames", "2", "--photos", str(photo_dir),
         "--synthetic-crops-per-photo", "0", "--synthetic-max-ops", "4", "--json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data = json.loads(captured.out)
    assert set(data["datasets"]) == {"synthetic", "livec", "konvid"}
    assert data["datasets"]["konvid"]["media"] == "video"
    assert {r["backbone"] for r in data["results"]} == {"pretrained", "random_init"}
    assert "KoNViD_1k_attributes.csv" not in captured.err  # found, so no layout shown
    assert "koniq10k_distributions_sets.csv" in captured.err  # missing one, with its layout
    assert (out / "results.md").is_file() and (out / "results.png").is_file()


def test_named_dataset_missing_is_a_one_line_error(root, tmp_path, capsys):
    code = main(
        [
            "bench",
            "run",
            "koniq",
            "--data-root",
            str(root),
            "-c",
            "random:hivit_nano",
            "--out",
            str(tmp_path),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: bench: no dataset could run")


def test_bench_list_json(root, capsys):
    assert main(["bench", "list", "--data-root", str(root), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["livec"]["found"] == str(root / "ChallengeDB_release")
    assert rows["ava"]["found"] is None and "generic_test.jpgl" in rows["ava"]["layout"]


def test_stage_uses_the_pretrain_export_and_the_random_twin(tmp_path, root, export, photo_dir):
    out = tmp_path / "bench"
    out.mkdir()
    ctx = StageContext(
        "test", "bench", "bench", tmp_path, out,
        inputs={"pretrain": export.parent}, kinds={"pretrain": "pretrain"},
    )  # fmt: skip
    params = BenchParams(
        datasets=["synthetic", "livec"],
        data_root=str(root),
        n_splits=2,
        synthetic_photos=str(photo_dir),
        synthetic_n_photos=4,
        synthetic_crops_per_photo=0,
        synthetic_ops=["gaussian_blur", "jpeg"],
        extra_backbones=["handcrafted"],
    )
    summary = run_bench(ctx, params)
    assert summary["datasets_run"] == 2 and summary["errors"] == 0
    assert {k for k in summary if k.endswith("/srcc")} == {
        f"{d}/{b}/linear/srcc"
        for d in ("synthetic", "livec")
        for b in ("pretrained", "random_init", "handcrafted")
    }
    data = json.loads((out / "results.json").read_text())
    assert data["backbones"]["pretrained"]["source"] == str(export)
    with pytest.raises(ValueError, match="extra"):
        BenchParams(n_split=3)
    no_pretrain = StageContext("test", "bench", "bench", tmp_path, out)
    with pytest.raises(ValueError, match="needs an earlier 'pretrain' stage"):
        run_bench(no_pretrain, params)


def test_stage_prefix_names_earlier_pretrain_stages(tmp_path, export, photo_dir):
    out = tmp_path / "bench_stage_ref"
    out.mkdir()
    ctx = StageContext(
        "test", "bench", "bench", tmp_path, out,
        inputs={"pt_a": export.parent}, kinds={"pt_a": "pretrain"},
    )  # fmt: skip
    params = BenchParams(
        checkpoint="stage:pt_a",
        datasets=["synthetic"],
        data_root=None,
        n_splits=2,
        synthetic_photos=str(photo_dir),
        synthetic_n_photos=4,
        synthetic_crops_per_photo=0,
        synthetic_ops=["gaussian_blur"],
    )
    summary = run_bench(ctx, params)
    assert {k.split("/")[1] for k in summary if k.endswith("/srcc")} == {"pt_a", "random_init"}
    bad = params.model_copy(update={"extra_backbones": ["stage:nope"]})
    with pytest.raises(ValueError, match="'stage:nope' names no earlier stage"):
        run_bench(ctx, bad)
