"""Run backbones x datasets x splits x heads, resumable, and collect the results.

Work is saved as it finishes, so a crashed or interrupted run picks up where it stopped:

* ``features/<dataset>-<backbone>-<key>.npz``: frozen features (key = backbone, samples and
  input settings, so a changed checkpoint or setting never reuses stale ones);
* ``parts/<backbone>/<dataset>/<head>/<split>.json``: the metrics of one (dataset, split,
  head), with the fingerprint of everything that produced them; a part whose fingerprint
  differs from the current settings is recomputed.

Datasets: ``synthetic`` (always available) and every registered benchmark found under
``data_root`` (see :func:`bench.datasets.find_datasets`); the ones not found are listed with
their expected layout. With ``strict=False`` a dataset that fails to load is recorded in
``errors`` and the others still run (``qpt bench --all``); with ``strict=True`` the error is
raised (a dataset asked for by name).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.backbones import Backbone
from bench.datasets import expected_layout, find_datasets, get_spec, load_dataset
from bench.datasets.base import BenchDataset
from bench.datasets.synthetic import build_synthetic
from bench.features import InputConfig, cached_features
from bench.finetune import FinetuneConfig, finetune_predict
from bench.metrics import compute_metrics, summarize
from bench.params import SYNTHETIC_CROPS_PER_PHOTO, SYNTHETIC_MAX_OPS, SYNTHETIC_SIZE
from bench.protocols import Split, linear_probe, make_splits
from qpt_base.atomic import atomic_write_text
from qpt_base.fingerprint import fingerprint

HEADS = ("linear", "finetune")
_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
)


@dataclass(frozen=True)
class SyntheticConfig:
    """The ``synthetic`` benchmark (see :func:`bench.datasets.synthetic.build_synthetic`)."""

    photos: str = "builtin"
    n_photos: int | None = None
    ops: tuple[str, ...] | None = None
    max_ops: int | None = SYNTHETIC_MAX_OPS
    size: int = SYNTHETIC_SIZE
    crops_per_photo: int = SYNTHETIC_CROPS_PER_PHOTO


@dataclass
class BenchConfig:
    """Everything that decides what runs and what the numbers mean.

    Attributes:
        datasets: names to run; ``["all"]`` = synthetic + every benchmark found.
        data_root: where to look for the official releases (``None``: synthetic only).
        heads: ``linear`` (frozen-feature ridge probe) and/or ``finetune``.
        n_splits: random 80/20 splits where no official split exists.
        max_items: cap on samples per release dataset (a seeded random subset, reported as
            such); ``synthetic`` is sized by :class:`SyntheticConfig` instead.
        fit: PLCC/RMSE on raw predictions (``none``) or after a 4-parameter logistic.
        strict: raise on a dataset that fails to load instead of recording it.
    """

    datasets: list[str] = field(default_factory=lambda: ["all"])
    data_root: Path | None = None
    heads: tuple[str, ...] = ("linear",)
    n_splits: int = 3
    test_fraction: float = 0.2
    seed: int = 0
    max_items: int | None = None
    fit: str = "none"
    allow_partial: bool = False
    strict: bool = False
    device: str = "cpu"
    inputs: InputConfig = field(default_factory=InputConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def check(self) -> None:
        """``ValueError`` on values that cannot work."""
        bad = [h for h in self.heads if h not in HEADS]
        if bad or not self.heads:
            raise ValueError(f"bench: heads must be among {HEADS}, got {list(self.heads)}")
        if self.n_splits < 1:
            raise ValueError(f"bench: n_splits must be >= 1, got {self.n_splits}")
        if self.max_items is not None and self.max_items < 10:
            raise ValueError(f"bench: max_items must be >= 10, got {self.max_items}")
        if self.fit not in ("none", "logistic4"):
            raise ValueError(f"bench: fit must be 'none' or 'logistic4', got '{self.fit}'")
        if self.inputs.crops < 1 or self.inputs.frames < 1:
            raise ValueError("bench: crops and frames must be >= 1")


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=2, default=str))


def _read_part(path: Path, key: str) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("fingerprint") == key else None


def plan_datasets(cfg: BenchConfig) -> tuple[dict[str, Path | None], list[dict[str, str]]]:
    """Datasets to run (``{name: release folder}``, synthetic -> None) and the missing ones."""
    found, missing_specs = ({}, []) if cfg.data_root is None else find_datasets(cfg.data_root)
    wanted = list(cfg.datasets)
    plan: dict[str, Path | None] = {}
    missing: list[dict[str, str]] = []
    if "all" in wanted:
        plan["synthetic"] = None
        plan.update(found)
        for spec in missing_specs:
            missing.append({"name": spec.name, "layout": expected_layout(spec)})
        if cfg.data_root is None:
            missing.append({"name": "*", "layout": "no data root given: only 'synthetic' runs"})
        return plan, missing
    for name in wanted:
        if name == "synthetic":
            plan[name] = None
            continue
        spec = get_spec(name)
        if name in found:
            plan[name] = found[name]
        else:
            missing.append({"name": name, "layout": expected_layout(spec)})
    return plan, missing


def _load(name: str, root: Path | None, cfg: BenchConfig) -> tuple[BenchDataset, int]:
    if name == "synthetic":
        s = cfg.synthetic
        ds = build_synthetic(
            s.photos,
            n_photos=s.n_photos,
            crops_per_photo=s.crops_per_photo,
            ops=list(s.ops) if s.ops else None,
            max_ops=s.max_ops,
            size=s.size,
            seed=cfg.seed,
        )
    else:
        assert root is not None
        ds = load_dataset(name, root, cfg.allow_partial)
    n_total = len(ds)
    # synthetic's size is set by its own knobs: a subset would thin every content group
    if name != "synthetic" and cfg.max_items is not None and n_total > cfg.max_items:
        rng = np.random.default_rng(cfg.seed)
        ds = ds.subset(np.sort(rng.choice(n_total, cfg.max_items, replace=False)))
    return ds, n_total


def run_suite(
    backbones: list[Backbone],
    cfg: BenchConfig,
    out_dir: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run every (backbone, dataset, split, head) and return the ``results.json`` content.

    Raises:
        ValueError: bad config; with ``strict``, a dataset that cannot be read.
    """
    cfg.check()
    plan, missing = plan_datasets(cfg)
    suite = _Suite(backbones, cfg, Path(out_dir), console or Console(stderr=True))
    suite.results["missing"] = missing
    started = time.perf_counter()
    for name, root in plan.items():
        suite.run_dataset(name, root)
    suite.results["seconds"] = round(time.perf_counter() - started, 1)
    return suite.results


def _empty_results(backbones: list[Backbone], cfg: BenchConfig) -> dict[str, Any]:
    """The ``results.json`` skeleton: the config and backbones, no rows yet."""
    nested = ("inputs", "finetune", "synthetic")
    return {
        "config": {
            **{k: v for k, v in asdict(cfg).items() if k not in nested},
            "inputs": asdict(cfg.inputs),
            "finetune": asdict(cfg.finetune),
            "synthetic": asdict(cfg.synthetic),
        },
        "backbones": {
            b.name: {"source": b.source, "arch": b.arch, "img_size": b.img_size} for b in backbones
        },
        "datasets": {},
        "results": [],
        "missing": [],
        "errors": [],
    }


def _dataset_info(
    root: Path | None, dataset: BenchDataset, n_total: int, cfg: BenchConfig
) -> dict[str, Any]:
    """The ``datasets`` entry of ``results.json`` for one loaded dataset."""
    protocol = (
        "official"
        if dataset.official_split
        else f"random {1 - cfg.test_fraction:.0%}/{cfg.test_fraction:.0%} x {cfg.n_splits}"
    )
    return {
        "root": str(root) if root else None,
        "task": dataset.task,
        "media": dataset.media,
        "higher_better": dataset.higher_better,
        "score_range": list(dataset.score_range),
        "protocol": protocol,
        "n_total": n_total,
        "n_used": len(dataset),
        "subsampled": len(dataset) < n_total,
        "n_missing": len(dataset.missing),
        "missing_examples": dataset.missing[:10],
    }


def _result_row(
    backbone: Backbone, name: str, dataset: BenchDataset, head: str, protocol: str, rows: list
) -> dict[str, Any]:
    """One ``results`` entry: a (backbone, dataset, head) over its splits."""
    return {
        "backbone": backbone.name,
        "dataset": name,
        "task": dataset.task,
        "head": head,
        "protocol": protocol,
        "n_train": int(np.median([r["n_train"] for r in rows])),
        "n_test": int(np.median([r["n_test"] for r in rows])),
        "splits": [{k: v for k, v in r.items() if k != "fingerprint"} for r in rows],
        "summary": summarize(rows),
    }


@dataclass
class _Suite:
    """One run of :func:`run_suite`: what it runs with and the results it collects."""

    backbones: list[Backbone]
    cfg: BenchConfig
    out_dir: Path
    console: Console
    results: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.results = _empty_results(self.backbones, self.cfg)

    def _failed(self, name: str, exc: Exception) -> None:
        """Record ``exc`` for dataset ``name``, or raise it when datasets were named."""
        if self.cfg.strict:
            raise exc
        self.results["errors"].append({"dataset": name, "error": str(exc)})

    def run_dataset(self, name: str, root: Path | None) -> None:
        """Every backbone and head on dataset ``name`` (an error is recorded or raised)."""
        try:
            dataset, n_total = _load(name, root, self.cfg)
        except (ValueError, FileNotFoundError) as exc:
            self._failed(name, exc)
            self.console.print(f"[red]{name}: {exc}[/red]")
            return
        info = _dataset_info(root, dataset, n_total, self.cfg)
        self.results["datasets"][name] = info
        keys_hash = fingerprint([(s.key, s.score) for s in dataset.samples])
        t0 = time.perf_counter()
        for backbone in self.backbones:
            if not self._run_backbone(backbone, name, dataset, info, keys_hash):
                break
        info["seconds"] = round(time.perf_counter() - t0, 1)

    def _run_backbone(
        self, backbone: Backbone, name: str, dataset: BenchDataset, info: dict, keys_hash: str
    ) -> bool:
        """Every head of ``backbone`` on the dataset; False when no split can be made."""
        cfg = self.cfg
        with Progress(*_COLUMNS, console=self.console, transient=True) as bar:
            task = bar.add_task(f"{name} / {backbone.name}: features", total=len(dataset))
            feats = cached_features(
                self.out_dir / "features", backbone, dataset, cfg.inputs, cfg.device,
                lambda k: bar.advance(task, k),
            )  # fmt: skip
        info["n_unreadable"] = len(feats.unreadable)
        info["unreadable"] = dict(list(feats.unreadable.items())[:20])
        try:
            splits = make_splits(dataset, cfg.n_splits, cfg.seed, cfg.test_fraction, feats.ok)
        except ValueError as exc:
            self._failed(name, exc)
            return False
        for head in cfg.heads:
            rows = [
                self._split_row(backbone, name, dataset, keys_hash, head, split, feats.features)
                for split in splits
            ]
            row = _result_row(backbone, name, dataset, head, info["protocol"], rows)
            self.results["results"].append(row)
            srcc, plcc = row["summary"]["srcc"]["median"], row["summary"]["plcc"]["median"]
            self.console.print(
                f"{name:>12} {backbone.name:>12} {head:>8}: SRCC {srcc:.3f} PLCC {plcc:.3f} "
                f"({len(rows)} split(s))"
            )
        return True

    def _split_row(
        self,
        backbone: Backbone,
        name: str,
        dataset: BenchDataset,
        keys_hash: str,
        head: str,
        split: Split,
        features: np.ndarray,
    ) -> dict[str, Any]:
        """The metrics of one (dataset, split, head): read back when saved, else computed."""
        cfg = self.cfg
        head_cfg = asdict(cfg.finetune) if head == "finetune" else {"alphas": "ridgecv-1e-3..1e5"}
        key = fingerprint(
            [backbone.name, backbone.source, backbone.arch], name, keys_hash,
            asdict(cfg.inputs) | {"batch_size": 0}, head, head_cfg,
            cfg.fit, split.train.tolist(), split.test.tolist(),
        )  # fmt: skip
        part = self.out_dir / "parts" / backbone.name / name / head / f"{split.name}.json"
        row = _read_part(part, key)
        if row is None:
            row = _evaluate(backbone, dataset, split, head, features, cfg, self.console)
            row = {"fingerprint": key, "split": split.name, **row}
            _write_json(part, row)
        return row


def _evaluate(
    backbone: Backbone,
    dataset: BenchDataset,
    split,
    head: str,
    features: np.ndarray,
    cfg: BenchConfig,
    console: Console,
) -> dict[str, Any]:
    y = dataset.scores
    extra: dict[str, Any] = {}
    if head == "linear":
        pred, extra = linear_probe(features[split.train], y[split.train], features[split.test])
    else:
        total = cfg.finetune.epochs * len(split.train) + len(split.test)
        with Progress(*_COLUMNS, console=console, transient=True) as bar:
            task = bar.add_task(
                f"{dataset.name} / {backbone.name}: fine-tune {split.name}", total=total
            )
            pred = finetune_predict(
                backbone, dataset, split.train, split.test, cfg.inputs, cfg.finetune, cfg.device,
                lambda k: bar.advance(task, k),
            )  # fmt: skip
    metrics = compute_metrics(pred, y[split.test], fit=cfg.fit)
    return {"n_train": int(len(split.train)), "n_test": int(len(split.test)), **metrics, **extra}
