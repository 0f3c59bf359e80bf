"""The scorer folder: fit, save, load in a new process, score any input form, refuse bad folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from bench.backbones import create_random, parse_backbone
from bench.datasets.scored_csv import load_scored_csv
from bench.features import InputConfig
from bench.fit import FitConfig, fit_scorer
from bench.scorer import CONFIG_FILE, WEIGHTS_FILE, Scorer
from tests.bench.releases import image


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """24 images whose brightness is their quality, and ``scores.csv`` (path,score)."""
    root = tmp_path_factory.mktemp("mine")
    values = np.random.default_rng(1).uniform(0, 1, 24)
    lines = ["path,score"]
    for i, v in enumerate(values):
        image(root / "img" / f"{i:02d}.png", float(v), size=(40, 56), seed=i)
        lines.append(f"img/{i:02d}.png,{100 * v:.3f}")
    (root / "scores.csv").write_text("\n".join(lines) + "\n")
    return root


def _backbone(kind: str):
    if kind == "handcrafted":
        return parse_backbone("handcrafted"), "handcrafted"
    return create_random("hivit_nano", seed=5, img_size=32), "random:hivit_nano"


@pytest.fixture(scope="module")
def scorers(folder, tmp_path_factory) -> dict[str, tuple[Scorer, Path]]:
    """A linear scorer fitted on ``folder`` per backbone kind, saved."""
    ds = load_scored_csv(folder / "scores.csv")
    cfg = FitConfig(inputs=InputConfig(crops=2, batch_size=8), seed=3)
    out = {}
    for kind in ("handcrafted", "hivit"):
        backbone, spec = _backbone(kind)
        path = tmp_path_factory.mktemp("scorer") / kind
        out[kind] = fit_scorer(backbone, ds, cfg, path, spec), path
    return out


@pytest.fixture(params=["handcrafted", "hivit"])
def fitted(request, scorers) -> tuple[Scorer, Path]:
    return scorers[request.param]


def test_a_saved_scorer_scores_bit_identically_in_a_new_process(scorers, folder):
    paths = sorted(str(p) for p in (folder / "img").glob("*.png"))
    code = (
        "import sys, json; from bench.scorer import Scorer; "
        "print(json.dumps([[float(x) for x in Scorer.load(d)(sys.argv[3:]).tolist()] "
        "for d in sys.argv[1:3]]))"
    )
    folders = [str(scorers[k][1]) for k in ("handcrafted", "hivit")]
    done = subprocess.run(
        [sys.executable, "-c", code, *folders, *paths], capture_output=True, text=True, check=True
    )
    there = json.loads(done.stdout)
    for kind, scores in zip(("handcrafted", "hivit"), there, strict=True):
        here = scorers[kind][0](paths).numpy()
        assert np.array(scores, dtype=np.float32).tobytes() == here.tobytes()
        assert np.isfinite(here).all() and len(set(here.tolist())) > 10  # not a constant


def test_the_folder_describes_itself(fitted):
    _, out = fitted
    meta = json.loads((out / CONFIG_FILE).read_text())
    assert meta["format"] == "qpt-scorer" and meta["format_version"] == 1
    assert meta["fitted_on"]["dataset"] == "scores" and meta["fitted_on"]["split"] == "split-00"
    assert meta["fitted_on"]["n_train"] + meta["fitted_on"]["n_test"] == 24
    assert meta["input"]["crops"] == 2 and meta["input"]["pool"] == "features"
    assert meta["score"]["higher_better"] is True
    assert 0 <= meta["score"]["train_min"] < meta["score"]["train_max"] <= 100
    split = json.loads((out / "split.json").read_text())
    assert len(split["test"]) == meta["test"]["n"] == meta["fitted_on"]["n_test"]
    # the recorded test SRCC is what the loaded scorer gives on the test files
    from bench.metrics import compute_metrics

    scorer = Scorer.load(out)
    scores = load_scored_csv(Path(meta["fitted_on"]["root"]) / "scores.csv")
    by_key = {s.key: s for s in scores.samples}
    test = [by_key[k] for k in split["test"]]
    pred = scorer([str(s.path) for s in test]).numpy()
    srcc = compute_metrics(pred, np.array([s.score for s in test]))["srcc"]
    assert srcc == pytest.approx(meta["test"]["srcc"], abs=1e-6)


def test_every_input_form_gives_the_same_score(fitted, folder):
    scorer, _ = fitted
    path = folder / "img" / "03.png"
    pixels = np.array(Image.open(path).convert("RGB"))
    tensor = torch.from_numpy(pixels).permute(2, 0, 1).float() / 255
    forms = [str(path), path, Image.open(path), pixels, tensor, tensor[None], [pixels]]
    scores = [scorer(form) for form in forms]
    for s in scores:
        assert s.shape == (1,) and s.dtype == torch.float32
        assert s.item() == scores[0].item()
    batch = scorer(torch.stack([tensor, tensor.flip(-1)]))
    assert batch.shape == (2,)
    assert batch[0].item() == pytest.approx(scores[0].item(), rel=1e-5)


def test_bad_inputs_are_one_clear_error(fitted, tmp_path):
    scorer, _ = fitted
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        scorer(torch.full((1, 3, 40, 40), 255.0))
    with pytest.raises(ValueError, match="uint8"):
        scorer(np.zeros((8, 8, 3), np.float32))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        scorer([str(broken)])


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_bad_folders_are_one_valueerror_naming_the_problem(fitted, tmp_path):
    _, out = fitted
    with pytest.raises(ValueError, match="not found"):
        Scorer.load(tmp_path / "nowhere")
    no_json = _copy(out, tmp_path / "a")
    (no_json / CONFIG_FILE).unlink()
    with pytest.raises(ValueError, match="missing scorer.json"):
        Scorer.load(no_json)
    no_weights = _copy(out, tmp_path / "b")
    (no_weights / WEIGHTS_FILE).unlink()
    with pytest.raises(ValueError, match="missing model.safetensors"):
        Scorer.load(no_weights)
    future = _copy(out, tmp_path / "c")
    meta = json.loads((future / CONFIG_FILE).read_text())
    meta["format_version"] = 2
    (future / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format version 2"):
        Scorer.load(future)
    other = _copy(out, tmp_path / "d")
    meta = json.loads((other / CONFIG_FILE).read_text())
    meta["backbone"]["num_features"] += 1
    (other / CONFIG_FILE).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="do not match"):
        Scorer.load(other)


def _finetune_cfg(epochs: int, lr: float, patience: int) -> FitConfig:
    from bench.finetune import FinetuneConfig

    return FitConfig(
        head="finetune",
        val_fraction=0.25,
        patience=patience,
        inputs=InputConfig(crops=1, batch_size=16),
        finetune=FinetuneConfig(epochs=epochs, batch_size=8, lr=lr, layer_decay=0.9),
    )


@pytest.mark.slow
def test_an_interrupted_finetune_resumes_to_the_same_scorer(folder, tmp_path, monkeypatch):
    import io

    from rich.console import Console

    from bench.fit import STATE_DIR, _Checkpoint

    ds = load_scored_csv(folder / "scores.csv")
    backbone, spec = _backbone("hivit")
    cfg = _finetune_cfg(epochs=3, lr=3e-3, patience=5)
    whole = fit_scorer(backbone, ds, cfg, tmp_path / "whole", spec)

    save = _Checkpoint.save

    def save_then_die(self, *args, **kwargs):
        save(self, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(_Checkpoint, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        fit_scorer(backbone, ds, cfg, tmp_path / "cut", spec)
    monkeypatch.undo()
    state = json.loads((tmp_path / "cut" / STATE_DIR / "state.json").read_text())
    assert state["epoch"] == 1
    console = Console(file=io.StringIO(), record=True)
    resumed = fit_scorer(backbone, ds, cfg, tmp_path / "cut", spec, console)
    assert "resuming after epoch 1" in console.export_text()
    assert not (tmp_path / "cut" / STATE_DIR).exists()
    history = resumed.meta["fit"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history == whole.meta["fit"]["history"]
    best = max(history, key=lambda h: h["val_srcc"])["epoch"]
    assert resumed.meta["fit"]["best_epoch"] == best
    assert resumed.meta["fitted_on"]["n_val"] >= 3 and resumed.meta["input"]["pool"] == "scores"
    paths = sorted(str(p) for p in (folder / "img").glob("*.png"))
    loaded = Scorer.load(tmp_path / "cut")
    assert loaded(paths).tolist() == whole(paths).tolist()


def test_finetune_stops_when_validation_stops_improving(folder, tmp_path):
    ds = load_scored_csv(folder / "scores.csv")
    backbone, spec = _backbone("handcrafted")
    # lr 0: the validation SRCC never changes, so the second epoch is not better
    scorer = fit_scorer(backbone, ds, _finetune_cfg(epochs=6, lr=0.0, patience=1), tmp_path, spec)
    assert scorer.meta["fit"]["epochs_run"] == 2 and scorer.meta["fit"]["best_epoch"] == 1
