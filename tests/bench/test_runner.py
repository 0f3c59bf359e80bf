"""End to end: random-init tiny backbone, linear probe, synthetic + LIVE-C fixture; resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import runner
from bench.backbones import create_random, random_init_like
from bench.features import InputConfig
from bench.report import write_reports
from bench.runner import BenchConfig, SyntheticConfig, run_suite
from tests.bench import releases


@pytest.fixture(scope="module")
def small_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("small")
    releases.make_livec(root, n=15)
    return root


@pytest.fixture(scope="module")
def backbones():
    b = create_random("hivit_nano", name="pretrained", seed=0, img_size=64)
    return [b, random_init_like(b, seed=1)]


def _config(small_root: Path, photo_dir: Path, **kw) -> BenchConfig:
    kw = {"datasets": ["all"], "n_splits": 2, **kw}
    return BenchConfig(
        data_root=small_root,
        inputs=InputConfig(crops=1, batch_size=16),
        synthetic=SyntheticConfig(
            photos=str(photo_dir),
            n_photos=4,
            ops=("gaussian_blur", "jpeg"),
            size=64,
            crops_per_photo=0,
        ),
        **kw,
    )


def test_end_to_end_results_files(tmp_path, small_root, photo_dir, backbones):
    results = run_suite(backbones, _config(small_root, photo_dir), tmp_path)
    paths = write_reports(results, tmp_path)
    data = json.loads(paths["json"].read_text())
    rows = {(r["dataset"], r["backbone"], r["head"]) for r in data["results"]}
    assert rows == {
        (d, b, "linear") for d in ("synthetic", "livec") for b in ("pretrained", "random_init")
    }
    for r in data["results"]:
        assert len(r["splits"]) == 2
        assert set(r["summary"]) == {"srcc", "plcc", "krcc", "rmse"}
        assert all(-1 <= s["srcc"] <= 1 for s in r["splits"])
    syn = data["datasets"]["synthetic"]
    assert syn["n_used"] == 4 * 2 * 5 and syn["higher_better"] is False
    assert data["datasets"]["livec"]["n_used"] == 15
    missing = {m["name"] for m in data["missing"]}
    assert "koniq" in missing and "livec" not in missing
    md = paths["md"].read_text()
    assert "| synthetic |" in md and "random_init" in md and "koniq (KonIQ-10k)" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rerun_resumes_from_parts_and_redoes_only_what_is_missing(
    tmp_path, small_root, photo_dir, backbones, monkeypatch
):
    cfg = _config(small_root, photo_dir, datasets=["livec"])
    first = run_suite(backbones, cfg, tmp_path)
    calls = []
    real = runner._evaluate

    def counting(*args, **kwargs):
        calls.append(args[2].name)
        return real(*args, **kwargs)

    def no_features(*args, **kwargs):
        raise AssertionError("features should come from the cache")

    monkeypatch.setattr(runner, "_evaluate", counting)
    monkeypatch.setattr("bench.features.extract_features", no_features)
    second = run_suite(backbones, cfg, tmp_path)
    assert calls == []
    assert second["results"] == first["results"]
    (tmp_path / "parts" / "random_init" / "livec" / "linear" / "split-01.json").unlink()
    third = run_suite(backbones, cfg, tmp_path)
    assert calls == ["split-01"]
    assert third["results"] == first["results"]
    # a changed setting is not served from stale parts
    run_suite(
        backbones, _config(small_root, photo_dir, datasets=["livec"], fit="logistic4"), tmp_path
    )
    assert len(calls) == 1 + 2 * 2


def test_broken_dataset_is_recorded_in_all_mode_and_raised_when_named(
    tmp_path, photo_dir, backbones
):
    root = tmp_path / "data"
    rel, _ = releases.make_livec(root, n=6)
    (rel / "Images" / "1000.JPG").unlink()
    cfg = _config(root, photo_dir, datasets=["livec"], strict=True)
    with pytest.raises(ValueError, match="AllImages_release.mat are missing"):
        run_suite(backbones, cfg, tmp_path / "out")
    results = run_suite(backbones[:1], _config(root, photo_dir, n_splits=1), tmp_path / "out")
    assert results["errors"][0]["dataset"] == "livec"
    assert [r["dataset"] for r in results["results"]] == ["synthetic"]


def test_unreadable_images_are_skipped_and_counted(tmp_path, photo_dir, backbones):
    root = tmp_path / "data"
    rel, pairs = releases.make_livec(root, n=12)
    (rel / "Images" / pairs[0][0]).write_bytes(b"broken")
    results = run_suite(backbones[:1], _config(root, photo_dir, datasets=["livec"]), tmp_path / "o")
    info = results["datasets"]["livec"]
    assert info["n_unreadable"] == 1 and pairs[0][0] in info["unreadable"]
    r = results["results"][0]
    assert all(s["n_train"] + s["n_test"] == 11 for s in r["splits"])


def test_finetune_head_runs_beside_the_linear_probe(tmp_path, small_root, photo_dir, backbones):
    from bench.finetune import FinetuneConfig

    cfg = _config(
        small_root,
        photo_dir,
        datasets=["livec"],
        heads=("linear", "finetune"),
        finetune=FinetuneConfig(epochs=1, batch_size=8),
    )
    results = run_suite(backbones[:1], cfg, tmp_path)
    heads = {r["head"]: r for r in results["results"]}
    assert set(heads) == {"linear", "finetune"}
    assert [s["n_test"] for s in heads["finetune"]["splits"]] == [
        s["n_test"] for s in heads["linear"]["splits"]
    ]
    assert (tmp_path / "parts" / "pretrained" / "livec" / "finetune" / "split-00.json").is_file()
    with pytest.raises(ValueError, match="heads must be among"):
        run_suite(backbones[:1], _config(small_root, photo_dir, heads=("svr",)), tmp_path)


def test_max_items_caps_the_releases_not_the_synthetic_benchmark(
    tmp_path, small_root, photo_dir, backbones
):
    results = run_suite(backbones[:1], _config(small_root, photo_dir, max_items=10), tmp_path)
    livec, synthetic = results["datasets"]["livec"], results["datasets"]["synthetic"]
    assert (livec["n_used"], livec["n_total"], livec["subsampled"]) == (10, 15, True)
    assert (synthetic["n_used"], synthetic["subsampled"]) == (4 * 2 * 5, False)
