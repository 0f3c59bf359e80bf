"""``qpt finetune`` and ``qpt score`` end to end on a fixture CSV dataset; bad input is one line."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.scorer import Scorer
from qpt.cli import main
from tests.bench.releases import image


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """20 images whose brightness is their quality, ``scores.csv`` beside them."""
    root = tmp_path_factory.mktemp("mine")
    values = np.random.default_rng(2).uniform(0, 1, 20)
    lines = ["path,score"]
    for i, v in enumerate(values):
        image(root / "img" / f"{i:02d}.png", float(v), size=(40, 48), seed=i)
        lines.append(f"img/{i:02d}.png,{10 * v:.4f}")
    (root / "scores.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="module")
def scorer_dir(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fit") / "scorer"
    code = main(["finetune", str(folder / "scores.csv"), "-c", "handcrafted", "-o", str(out),
                 "--crops", "2", "--device", "cpu"])  # fmt: skip
    assert code == 0
    return out


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_score_a_folder_with_a_broken_file(scorer_dir, folder, tmp_path, capsys):
    photos = tmp_path / "photos"
    shutil.copytree(folder / "img", photos / "nested")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "scores.csv"
    code = main(["score", str(photos), "-m", str(scorer_dir), "-o", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["inputs"] == 21 and summary["scored"] == 20 and summary["errors"] == 1
    rows = _rows(out.read_text())
    assert len(rows) == 21
    broken = [r for r in rows if r["path"].endswith("broken.jpg")]
    assert broken[0]["score"] == "" and "broken.jpg" in broken[0]["error"]
    # the CLI's numbers are the Python API's numbers
    good = [r for r in rows if not r["error"]]
    expected = Scorer.load(scorer_dir)([r["path"] for r in good]).tolist()
    assert [float(r["score"]) for r in good] == expected


def test_outputs_and_shards_agree(scorer_dir, folder, tmp_path, capsys):
    files = sorted((folder / "img").glob("*.png"))[:6]
    shard = tmp_path / "shard-000000.tar"
    with tarfile.open(shard, "w") as tar:
        for f in files:
            tar.add(f, arcname=f"{f.stem}.png")
            (tmp_path / f"{f.stem}.json").write_text("{}")
            tar.add(tmp_path / f"{f.stem}.json", arcname=f"{f.stem}.json")
    pattern = str(tmp_path / "shard-{000000..000000}.tar")
    assert main(["score", pattern, "-m", str(scorer_dir), "-o", str(tmp_path / "s.jsonl")]) == 0
    assert main(["score", *map(str, files), "-m", str(scorer_dir), "-o",
                 str(tmp_path / "s.parquet")]) == 0  # fmt: skip
    assert main(["score", *map(str, files), "-m", str(scorer_dir)]) == 0
    stdout_rows = _rows(capsys.readouterr().out)
    import pyarrow.parquet as pq

    from_shard = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    from_files = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert [r["path"] for r in from_shard] == [f"{shard}/{f.stem}.png" for f in files]
    assert [r["score"] for r in from_shard] == [r["score"] for r in from_files]
    assert [float(r["score"]) for r in stdout_rows] == [r["score"] for r in from_files]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["finetune", "nosuchset", "-c", "handcrafted", "-o", "{tmp}/o"], "unknown dataset"),
        (["finetune", "{csv}", "-c", "nosuch:thing", "-o", "{tmp}/o"], "nosuch:thing"),
        (["finetune", "{tmp}/missing.csv", "-c", "handcrafted", "-o", "{tmp}/o"], "line 3"),
        (["finetune", "{tmp}/text.csv", "-c", "handcrafted", "-o", "{tmp}/o"], "not a number"),
        (["finetune", "{tmp}/nocol.csv", "-c", "handcrafted", "-o", "{tmp}/o"], "'score' column"),
        (["score", "{tmp}/empty", "-m", "{model}"], "no image or video"),
        (["score", "{csv}", "-m", "{tmp}"], "missing scorer.json"),
        (["score", "{tmp}/nowhere.png", "-m", "{model}"], "no such file"),
        (["score", "{csv}", "-m", "{model}", "-o", "{tmp}/x.txt"], ".csv, .jsonl or .parquet"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(args, needle, folder, scorer_dir, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "missing.csv").write_text("path,score\nimg/00.png,1\nimg/01.png,\n")
    (tmp_path / "text.csv").write_text("path,score\nimg/00.png,good\n")
    (tmp_path / "nocol.csv").write_text("path,mos\nimg/00.png,1\n")
    subs = {"{tmp}": str(tmp_path), "{csv}": str(folder / "scores.csv"), "{model}": str(scorer_dir)}
    argv = []
    for a in args:
        for k, v in subs.items():
            a = a.replace(k, v)
        argv.append(a)
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err


def test_finetune_and_score_stages_in_a_pipeline(folder, tmp_path, capsys):
    from qpt.config import load_config
    from qpt.runner import run_pipeline

    config = tmp_path / "pipelines.toml"
    config.write_text(
        f"""
[run]
default = "fit"
runs_dir = "{tmp_path / "runs"}"

[pipeline.fit]
description = "a scorer from a CSV"

[[pipeline.fit.stage]]
kind = "finetune"
dataset = "{folder / "scores.csv"}"
checkpoint = "handcrafted"

[[pipeline.fit.stage]]
kind = "score"
paths = ["{folder / "img"}"]
k = 3
"""
    )
    record = run_pipeline(load_config(config).resolve(None))
    summary = record["stages"]["finetune"]["summary"]
    assert summary["head"] == "linear" and summary["n_test"] == 4 and summary["split"] == "split-00"
    stage_dir = tmp_path / "runs" / "fit" / "finetune"
    scorer = Scorer.load(stage_dir)
    assert scorer.meta["test"]["srcc"] == pytest.approx(summary["test_srcc"], abs=1e-4)
    scored = record["stages"]["score"]["summary"]
    assert scored["inputs"] == scored["scored"] == 20 and scored["errors"] == 0
    rows = _rows((tmp_path / "runs" / "fit" / "score" / "scores.csv").read_text())
    best = max(rows, key=lambda r: float(r["score"]))
    assert scorer([best["path"]]).item() == float(best["score"])
    with Image.open(tmp_path / "runs" / "fit" / "score" / "best_worst.png") as sheet:
        assert sheet.width > 300 and sheet.height > 200
    with pytest.raises(ValueError, match="stage:nowhere"):
        run_pipeline(
            load_config(config).resolve(None, overrides={"finetune.checkpoint": "stage:nowhere"})
        )


def test_a_video_is_scored_from_its_sampled_frames(scorer_dir, tmp_path, capsys):
    from bench.media import read_video_frames, to_tensor
    from tests.bench.releases import video

    clip = tmp_path / "clips" / "clip.mp4"
    video(clip, 0.6, frames=6, size=(48, 64))
    assert main(["score", str(tmp_path / "clips"), "-m", str(scorer_dir), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)["rows"][0]
    assert row["path"] == str(clip) and row["error"] == ""
    scorer = Scorer.load(scorer_dir)
    frames = read_video_frames(clip, scorer.frames)
    assert len(frames) == scorer.frames
    pooled = scorer.score_views([scorer.views_of([to_tensor(f) for f in frames])])
    first_only = scorer(frames[0])
    assert row["score"] == pooled.item() != first_only.item()


@pytest.mark.gpu
def test_a_scorer_moves_to_cuda(scorer_dir, folder):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    paths = sorted(str(p) for p in (folder / "img").glob("*.png"))
    cpu = Scorer.load(scorer_dir)(paths)
    gpu = Scorer.load(scorer_dir).to("cuda")
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu(paths), cpu, rtol=1e-4, atol=1e-4)
