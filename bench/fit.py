"""Fit a :class:`bench.scorer.Scorer` on a benchmark or your own CSV, and save it.

The protocol is the bench's, on one split: the official train/test split when the dataset
has one (``split="auto"`` or ``"official"``), else the seeded 80/20 split that
``qpt bench`` calls ``split-00`` for the same seed (``"random"`` forces it). So the test
SRCC a scorer records is the one ``qpt bench`` reports for that split and head.

Heads:

* ``linear``: frozen features (views averaged per sample) -> standardise -> ridge with the
  penalty chosen by leave-one-out CV on the training side (the bench linear probe). Seconds
  on a CPU.
* ``finetune``: the bench fine-tune (AdamW, layer-wise lr decay, linear warm-up over the first
  epoch then cosine, random native-resolution crops with flips, MSE on standardised targets),
  with a seeded validation part carved from the training side (grouped, ``val_fraction``):
  the validation SRCC is computed after every epoch, the best epoch's weights are kept and
  training stops after ``patience`` epochs without improvement. After every epoch the state
  (weights, best weights, optimiser, generator, history) is saved in ``OUT/.fit-state/``; the
  same command run again resumes from there, and the folder is removed once the scorer is
  saved. Unreadable samples are skipped and counted, never fatal.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sklearn.model_selection import GroupShuffleSplit
from torch import nn

from bench.backbones import Backbone
from bench.datasets.base import BenchDataset
from bench.features import InputConfig, extract_features, view_groups
from bench.finetune import FinetuneConfig, _Scorer, lr_at, param_groups, train_view
from bench.media import UnreadableMedia, to_tensor
from bench.metrics import compute_metrics
from bench.protocols import Split, fit_ridge, make_splits
from bench.scorer import LinearHead, Scorer, TrainedHead
from qpt_base.atomic import atomic_path, atomic_write_json
from qpt_base.fingerprint import fingerprint

HEADS = ("linear", "finetune")
STATE_DIR = ".fit-state"


@dataclass(frozen=True)
class FitConfig:
    """How a scorer is fitted (see the module docstring).

    Attributes:
        head: ``linear`` or ``finetune``.
        split: ``auto`` (official when published, else seeded 80/20), ``official``, ``random``.
        test_fraction: held-out test part of a random split.
        val_fraction: validation part carved from the training side (``finetune`` only).
        patience: epochs without a better validation SRCC before stopping (``finetune``).
    """

    head: str = "linear"
    split: str = "auto"
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    seed: int = 0
    patience: int = 3
    device: str = "cpu"
    inputs: InputConfig = field(default_factory=InputConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def check(self) -> None:
        """``ValueError`` on values that cannot work."""
        if self.head not in HEADS:
            raise ValueError(f"finetune: head must be one of {HEADS}, got '{self.head}'")
        if self.split not in ("auto", "official", "random"):
            raise ValueError(f"finetune: split must be auto, official or random: '{self.split}'")
        if not 0.0 < self.test_fraction < 1.0 or not 0.0 < self.val_fraction < 1.0:
            raise ValueError("finetune: test and validation fractions must be in (0, 1)")
        if self.patience < 1 or self.finetune.epochs < 1:
            raise ValueError("finetune: patience and epochs must be >= 1")


def open_dataset(
    name: str,
    data_root: Path | None,
    *,
    allow_partial: bool = False,
    max_items: int | None = None,
    seed: int = 0,
    synthetic: Any = None,
    higher_better: bool = True,
) -> BenchDataset:
    """A dataset by name (``synthetic``, any ``qpt bench list`` name found under
    ``data_root``) or a CSV of ``path,score`` (a file, or a folder holding one).

    ``max_items`` keeps the seeded subset ``qpt bench --max-items`` keeps.

    Raises:
        ValueError: unknown name, a benchmark not found under ``data_root``, a bad CSV.
        FileNotFoundError: missing data root or files.
    """
    from bench.datasets import get_spec, load_dataset
    from bench.datasets.scored_csv import load_scored_csv
    from bench.datasets.synthetic import build_synthetic

    if name == "synthetic":
        s = synthetic
        ds = build_synthetic(
            s.photos, n_photos=s.n_photos, crops_per_photo=s.crops_per_photo,
            ops=list(s.ops) if s.ops else None,
            max_ops=s.max_ops, size=s.size, seed=seed,
        ) if s is not None else build_synthetic(seed=seed)  # fmt: skip
    elif name.lower().endswith(".csv") or Path(name).exists():
        ds = load_scored_csv(name, allow_partial, higher_better)
    else:
        try:
            spec = get_spec(name)
        except ValueError as exc:
            raise ValueError(f"{exc}, or a CSV file of path,score") from None
        root = spec.locate(data_root) if data_root is not None else None
        if root is None:
            where = data_root if data_root is not None else "no --data-root"
            raise ValueError(
                f"{name}: not found under {where} (`qpt bench list` shows its expected layout)"
            )
        ds = load_dataset(name, root, allow_partial)
    if max_items is not None and len(ds) > max_items:
        rng = np.random.default_rng(seed)
        ds = ds.subset(np.sort(rng.choice(len(ds), max_items, replace=False)))
    return ds


def _progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


def choose_split(dataset: BenchDataset, cfg: FitConfig, ok: np.ndarray | None = None) -> Split:
    """The one train/test split of the protocol (``split-00`` of ``qpt bench`` when random)."""
    if cfg.split == "official" and dataset.official_split is None:
        raise ValueError(f"{dataset.name}: has no official split (use split 'random' or 'auto')")
    if cfg.split == "random":
        dataset = replace(dataset, official_split=None)
    return make_splits(dataset, 1, cfg.seed, cfg.test_fraction, ok)[0]


def carve_validation(
    dataset: BenchDataset, train: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split the training indices into (train, validation), grouped, seeded."""
    groups = np.array([dataset.samples[i].group or dataset.samples[i].key for i in train])
    if len(set(groups)) < 2:
        raise ValueError(f"{dataset.name}: too few groups to carve a validation part")
    splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
    keep, val = next(splitter.split(np.zeros(len(train)), groups=groups))
    if len(val) < 3 or len(keep) < 3:
        raise ValueError(
            f"{dataset.name}: {len(keep)} train / {len(val)} validation samples "
            "(need at least 3 each; use more data or a larger val_fraction)"
        )
    return np.sort(train[keep]), np.sort(train[val])


def predict(
    scorer: Scorer,
    dataset: BenchDataset,
    indices: np.ndarray,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``indices`` through ``scorer``: ``(N,)`` float64 and ``(N,)`` readable mask."""
    pred = np.full(len(indices), np.nan)
    ok = np.zeros(len(indices), dtype=bool)

    def views_of(frames: list[np.ndarray]) -> torch.Tensor:
        return scorer.views_of([to_tensor(f) for f in frames])

    groups = view_groups(dataset, indices, scorer.frames, views_of, scorer.batch_size,
                         progress=progress)  # fmt: skip
    for group in groups:
        scores = scorer.score_views([v for _, v in group])
        for (pos, _), s in zip(group, scores.tolist(), strict=True):
            pred[pos], ok[pos] = s, True
        if progress:
            progress(len(group))
    return pred, ok


def input_protocol(backbone: Backbone, cfg: FitConfig) -> dict[str, Any]:
    """How pixels become the model's input, as ``scorer.json`` records it. The linear head
    averages the features of an input's views (as the bench probe), the fine-tuned head its
    scores (as the bench fine-tune)."""
    return {
        "crop_size": backbone.img_size,
        "crops": cfg.inputs.crops,
        "mode": cfg.inputs.mode,
        "frames": cfg.inputs.frames,
        "pool": "features" if cfg.head == "linear" else "scores",
        "batch_size": cfg.inputs.batch_size,
        "value_range": [0.0, 1.0],
    }


def describe(
    backbone: Backbone,
    spec: str,
    dataset: BenchDataset,
    cfg: FitConfig,
    split: Split,
    n_val: int,
    train_y: np.ndarray,
    test: dict[str, Any],
    fit: dict[str, Any],
) -> dict[str, Any]:
    """The ``scorer.json`` content (format fields are added by :meth:`Scorer.save`)."""
    random_protocol = f"seeded {1 - cfg.test_fraction:.0%}/{cfg.test_fraction:.0%}"
    return {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "head": cfg.head,
        "backbone": {
            "spec": spec,
            "name": backbone.name,
            "source": backbone.source,
            "arch": {k: v for k, v in backbone.arch.items() if k != "weights_stamp"},
            "img_size": backbone.img_size,
            "num_features": backbone.num_features,
        },
        "input": input_protocol(backbone, cfg),
        "score": {
            "higher_better": dataset.higher_better,
            "range": list(dataset.score_range),
            "train_min": float(train_y.min()),
            "train_max": float(train_y.max()),
            "train_mean": float(train_y.mean()),
            "train_std": float(train_y.std()),
        },
        "fitted_on": {
            "dataset": dataset.name,
            "task": dataset.task,
            "media": dataset.media,
            "root": str(dataset.root) if dataset.root else None,
            "split": split.name,
            "protocol": "official" if split.name == "official" else random_protocol,
            "seed": cfg.seed,
            "n_train": int(len(split.train)) - n_val,
            "n_val": n_val,
            "n_test": int(len(split.test)),
        },
        "test": test,
        "fit": fit,
    }


def fit_linear(
    backbone: Backbone, dataset: BenchDataset, cfg: FitConfig, console: Console
) -> tuple[Scorer, Split, np.ndarray, dict[str, Any], dict[str, Any]]:
    """Ridge on frozen features. Returns the scorer (meta to fill), split, test predictions,
    test metrics and the head's fit details."""
    with _progress(console) as bar:
        task = bar.add_task(f"{dataset.name} / {backbone.name}: features", total=len(dataset))
        feats = extract_features(
            backbone, dataset, cfg.inputs, cfg.device, lambda k: bar.advance(task, k)
        )
    split = choose_split(dataset, cfg, feats.ok)
    y = dataset.scores
    pipeline = fit_ridge(feats.features[split.train], y[split.train])
    head = LinearHead.from_pipeline(pipeline)
    pred = head(torch.from_numpy(feats.features[split.test])).numpy()
    fit = {"alpha": float(pipeline[-1].alpha_), "n_unreadable": len(feats.unreadable)}
    scorer = Scorer(backbone.model, head.to(cfg.device), {"input": input_protocol(backbone, cfg)})
    return scorer, split, pred, compute_metrics(pred, y[split.test]), fit


class _Checkpoint:
    """The resumable state of a fine-tune in ``folder`` (see the module docstring)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = folder, key

    def load(self, model: nn.Module, opt: torch.optim.Optimizer, g: torch.Generator) -> dict | None:
        path = self.folder / "state.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if state.get("fingerprint") != self.key:
            return None
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(self.folder / "model.safetensors")))
        extra = torch.load(self.folder / "optim.pt", map_location="cpu", weights_only=True)
        opt.load_state_dict(extra["optimizer"])
        g.set_state(extra["generator"])
        return state

    def save(
        self, model: nn.Module, opt: torch.optim.Optimizer, g: torch.Generator, state: dict,
        best: bool,
    ) -> None:  # fmt: skip
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
        with atomic_path(self.folder / "model.safetensors") as tmp:
            save_file(weights, str(tmp))
        if best:
            with atomic_path(self.folder / "best.safetensors") as tmp:
                save_file(weights, str(tmp))
        with atomic_path(self.folder / "optim.pt") as tmp:
            torch.save({"optimizer": opt.state_dict(), "generator": g.get_state()}, tmp)
        atomic_write_json(self.folder / "state.json", {**state, "fingerprint": self.key})

    def best(self, model: nn.Module) -> None:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(str(self.folder / "best.safetensors")))


def _train_epoch(
    model: _Scorer,
    opt: torch.optim.Optimizer,
    g: torch.Generator,
    dataset: BenchDataset,
    order: np.ndarray,
    cfg: FitConfig,
    state: dict[str, Any],
    size: int,
    schedule: tuple[int, int, float, float],
    advance: Callable[[int], None],
) -> list[float]:
    """One pass over ``order`` (the bench recipe); returns the batch losses. Advances
    ``state["step"]`` and records unreadable samples in ``state["unreadable"]``.

    Args:
        size: side of the training crops (the backbone's input size).
        schedule: ``(total steps, warm-up steps, target mean, target std)``.
    """
    fc, (total, warmup, mean, std) = cfg.finetune, schedule
    dev = next(model.head.parameters()).device
    y = dataset.scores
    losses = []
    for start in range(0, len(order), fc.batch_size):
        batch, views = [], []
        for i in order[start : start + fc.batch_size]:
            try:
                views.append(train_view(dataset, int(i), size, cfg.inputs, g))
                batch.append(int(i))
            except UnreadableMedia as exc:
                state["unreadable"][dataset.samples[int(i)].key] = str(exc)
        advance(len(order[start : start + fc.batch_size]))
        if not batch:
            continue
        target = torch.tensor((y[batch] - mean) / std, dtype=torch.float32, device=dev)
        lr = lr_at(state["step"], total, warmup, fc.lr)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_scale"]
        loss = nn.functional.mse_loss(model(torch.stack(views).to(dev)), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] += 1
        losses.append(float(loss.detach()))
    return losses


@dataclass
class _Run:
    """A fine-tuning run in progress: the model being trained and what it is trained on."""

    model: _Scorer
    scorer: Scorer  # scores with the weights being trained
    opt: torch.optim.Optimizer
    g: torch.Generator
    ckpt: _Checkpoint
    state: dict[str, Any]
    dataset: BenchDataset
    cfg: FitConfig
    img_size: int
    schedule: tuple[int, int, float, float]  # total steps, warm-up steps, target mean, std


def _fresh_state() -> dict[str, Any]:
    return {
        "epoch": 0, "step": 0, "best_srcc": -math.inf, "best_epoch": 0, "bad_epochs": 0,
        "history": [], "unreadable": {},
    }  # fmt: skip


def _start_run(
    backbone: Backbone,
    dataset: BenchDataset,
    cfg: FitConfig,
    train: np.ndarray,
    state_dir: Path,
    key: str,
) -> _Run:
    """Seeded model, head and optimiser; the saved state of ``state_dir`` when it matches."""
    fc, y = cfg.finetune, dataset.scores
    dev = torch.device(cfg.device)
    g = torch.Generator().manual_seed(fc.seed)
    torch.manual_seed(fc.seed)
    model = _Scorer(copy.deepcopy(backbone.model), backbone.num_features).to(dev)
    mean, std = float(y[train].mean()), float(y[train].std()) or 1.0
    head = TrainedHead(backbone.num_features, mean, std).to(dev)
    head.head = model.head
    scorer = Scorer(model.encoder, head, {"input": input_protocol(backbone, cfg)})
    opt = torch.optim.AdamW(param_groups(model, fc), lr=fc.lr, betas=(0.9, 0.999))
    steps_per_epoch = math.ceil(len(train) / fc.batch_size)
    schedule = (fc.epochs * steps_per_epoch, steps_per_epoch, mean, std)
    ckpt = _Checkpoint(state_dir, key)
    state = ckpt.load(model, opt, g) or _fresh_state()
    return _Run(model, scorer, opt, g, ckpt, state, dataset, cfg, backbone.img_size, schedule)


def _record_epoch(state: dict[str, Any], epoch: int, srcc: float, losses: list[float]) -> bool:
    """Note epoch ``epoch``'s loss and validation SRCC in ``state``; True if it is the best."""
    better = state["best_epoch"] == 0 or srcc > state["best_srcc"]
    if better:
        state["best_srcc"], state["best_epoch"], state["bad_epochs"] = srcc, epoch + 1, 0
    else:
        state["bad_epochs"] += 1
    state["epoch"] = epoch + 1
    loss_mean = float(np.mean(losses)) if losses else math.nan
    state["history"].append({"epoch": epoch + 1, "loss": loss_mean, "val_srcc": srcc})
    return better


def _run_epoch(
    run: _Run,
    epoch: int,
    train: np.ndarray,
    val: np.ndarray,
    bar: Progress,
    task: Any,
    console: Console,
) -> None:
    """Train one epoch, score the validation part, save the state (and the best weights)."""
    fc, state = run.cfg.finetune, run.state
    label = f"epoch {epoch + 1}/{fc.epochs}"
    bar.update(task, description=f"{label}: train")
    run.model.train()
    order = train[torch.randperm(len(train), generator=run.g).numpy()]
    losses = _train_epoch(
        run.model, run.opt, run.g, run.dataset, order, run.cfg, state, run.img_size,
        run.schedule, lambda k: bar.advance(task, k),
    )  # fmt: skip
    bar.update(task, description=f"{label}: validation")
    pred, ok = predict(run.scorer, run.dataset, val, lambda k: bar.advance(task, k))
    y_val = run.dataset.scores[val]
    srcc = compute_metrics(pred[ok], y_val[ok])["srcc"] if ok.sum() >= 3 else math.nan
    better = _record_epoch(state, epoch, srcc, losses)
    run.ckpt.save(run.model, run.opt, run.g, state, best=better)
    bar.update(task, description=f"{label}: val SRCC {srcc:.3f}")
    console.print(
        f"{label}  loss {state['history'][-1]['loss']:.4f}  val SRCC {srcc:.3f}  "
        f"(best {state['best_srcc']:.3f} at epoch {state['best_epoch']})"
    )


def _fit_record(cfg: FitConfig, state: dict[str, Any], n_bad_test: int, val_keys: list) -> dict:
    """The ``fit`` entry of ``scorer.json`` for a fine-tuned head."""
    return {
        **asdict(cfg.finetune),
        "val_fraction": cfg.val_fraction,
        "patience": cfg.patience,
        "best_epoch": state["best_epoch"],
        "best_val_srcc": state["best_srcc"],
        "epochs_run": state["epoch"],
        "history": state["history"],
        "n_unreadable": len(state["unreadable"]) + n_bad_test,
        "val_keys": val_keys,
    }


def fit_finetune(
    backbone: Backbone,
    dataset: BenchDataset,
    cfg: FitConfig,
    state_dir: Path,
    console: Console,
    key: str,
) -> tuple[Scorer, Split, np.ndarray, dict[str, Any], dict[str, Any]]:
    """Fine-tune with early stopping on a validation part, resumable from ``state_dir``."""
    epochs = cfg.finetune.epochs
    split = choose_split(dataset, cfg)
    train, val = carve_validation(dataset, split.train, cfg.val_fraction, cfg.seed)
    run = _start_run(backbone, dataset, cfg, train, state_dir, key)
    if run.state["epoch"]:
        console.print(f"resuming after epoch {run.state['epoch']} from {state_dir}")
    with _progress(console) as bar:
        task = bar.add_task("fine-tune", total=epochs * (len(train) + len(val)))
        bar.advance(task, run.state["epoch"] * (len(train) + len(val)))
        for epoch in range(run.state["epoch"], epochs):
            if run.state["bad_epochs"] >= cfg.patience:
                break
            _run_epoch(run, epoch, train, val, bar, task, console)
        run.ckpt.best(run.model)
        bar.update(task, description="test")
        pred, ok = predict(run.scorer, dataset, split.test)
    test_idx = split.test[ok]
    split = Split(split.name, np.sort(np.concatenate([train, val])), test_idx)
    val_keys = [dataset.samples[i].key for i in val]
    fit = _fit_record(cfg, run.state, int((~ok).sum()), val_keys)
    return run.scorer, split, pred[ok], compute_metrics(pred[ok], dataset.scores[test_idx]), fit


def fit_scorer(
    backbone: Backbone,
    dataset: BenchDataset,
    cfg: FitConfig,
    out_dir: str | Path,
    spec: str,
    console: Console | None = None,
) -> Scorer:
    """Fit, evaluate on the held-out test part, and save the scorer folder ``out_dir``.

    Args:
        spec: the backbone spec the user gave (recorded in ``scorer.json``).

    Raises:
        ValueError: bad config, or a split side too small.
    """
    cfg.check()
    console = console or Console(stderr=True)
    out_dir = Path(out_dir)
    if cfg.head == "linear":
        scorer, split, _, metrics, fit = fit_linear(backbone, dataset, cfg, console)
        n_val = 0
    else:
        key = fingerprint(
            backbone.name, backbone.source, backbone.arch, dataset.name,
            [(s.key, s.score) for s in dataset.samples], asdict(cfg),
        )  # fmt: skip
        state_dir = out_dir / STATE_DIR
        scorer, split, _, metrics, fit = fit_finetune(
            backbone, dataset, cfg, state_dir, console, key
        )
        n_val = len(fit["val_keys"])
    train_y = dataset.scores[split.train]
    test = {**metrics, "n": int(len(split.test))}
    scorer.meta = describe(backbone, spec, dataset, cfg, split, n_val, train_y, test, fit)
    val_keys = fit.pop("val_keys", [])
    in_val = set(val_keys)
    keys = {
        "train": [
            dataset.samples[i].key for i in split.train if dataset.samples[i].key not in in_val
        ],
        "val": val_keys,
        "test": [dataset.samples[i].key for i in split.test],
    }
    scorer.save(out_dir, split=keys)
    if cfg.head == "finetune":
        shutil.rmtree(out_dir / STATE_DIR, ignore_errors=True)
    console.print(
        f"{dataset.name} {split.name} {cfg.head}: test SRCC {metrics['srcc']:.3f} "
        f"PLCC {metrics['plcc']:.3f} ({len(split.test)} samples) -> {out_dir}"
    )
    return scorer
