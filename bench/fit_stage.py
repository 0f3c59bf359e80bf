"""Fit a scorer from :class:`FinetuneParams` into a folder (``qpt finetune``, stage ``finetune``).

The folder is the scorer (``qpt score PATH -m FOLDER``). :func:`fit_scorer_folder` takes
plain arguments; the pipeline stage (:mod:`qpt.stages.finetune`) and the verb resolve the
backbone and the output folder and call it.

``json_schema_extra={"cli": ...}`` names a field's command-line flag where it is not the
field name in kebab case.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from bench.params import SyntheticSettings

if TYPE_CHECKING:
    from rich.console import Console

    from bench.backbones import Backbone


class FinetuneParams(SyntheticSettings):
    """Parameters of the ``finetune`` stage and of ``qpt finetune``."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        "synthetic",
        description="Benchmark name (qpt bench list), synthetic, a CSV of path,score, or auto "
        "(livec when found under data_root, else synthetic).",
    )
    checkpoint: str | None = Field(
        None,
        description="Backbone: export folder, random:NAME, timm:NAME=FILE, open_clip:NAME=FILE, "
        "handcrafted, or stage:NAME (an earlier pretrain stage's export); default: the pretrain "
        "stage's export.",
        json_schema_extra={"cli": ["--checkpoint", "-c"]},
    )
    head: Literal["linear", "finetune"] = Field(
        "linear", description="linear (ridge on frozen features) or finetune (full fine-tuning)."
    )
    data_root: str | None = Field(
        "auto",
        description="Folder holding the dataset releases (auto: ../shared/data if present; none: "
        "CSV and synthetic only).",
    )
    split: Literal["auto", "official", "random"] = Field(
        "auto", description="auto: the official split when published, else seeded 80/20."
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="Test share of a random split.")
    val_fraction: float = Field(
        0.1, gt=0.0, lt=1.0, description="Validation share of the training side (finetune head)."
    )
    max_items: int | None = Field(
        None, ge=10, description="Cap on samples, seeded subset (none: use all)."
    )
    crops: int = Field(1, ge=1, le=64, description="Native-resolution crops per image, averaged.")
    input_mode: Literal["crops", "resize"] = Field(
        "crops", description="crops (native resolution) or resize (squash)."
    )
    frames: int = Field(4, ge=1, le=256, description="Frames sampled per video.")
    batch_size: int = Field(
        32,
        ge=1,
        description="Views per forward pass (feature extraction and scoring).",
        json_schema_extra={"cli": "--view-batch-size"},
    )
    epochs: int = Field(10, ge=1, description="Fine-tuning epochs (at most).")
    lr: float = Field(2e-4, gt=0.0, description="Peak learning rate of the head's layer.")
    finetune_batch_size: int = Field(
        16, ge=1, description="Fine-tuning batch size.", json_schema_extra={"cli": "--batch-size"}
    )
    layer_decay: float = Field(0.75, gt=0.0, le=1.0, description="Layer-wise lr decay.")
    weight_decay: float = Field(0.05, ge=0.0, description="AdamW weight decay.")
    patience: int = Field(
        3, ge=1, description="Epochs without a better validation SRCC before stopping."
    )
    lower_better: bool = Field(False, description="CSV scores: lower is better (DMOS).")
    allow_partial: bool = Field(False, description="Use the files present when some are missing.")
    device: str = Field("cpu", description="cpu, cuda, cuda:N or auto.")


def _open(params: FinetuneParams, seed: int):
    """The dataset ``params`` names (``auto``: livec when found, else synthetic)."""
    from bench.datasets import get_spec
    from bench.fit import open_dataset
    from bench.params import resolve_data_root

    synthetic = params.synthetic_config()
    data_root = resolve_data_root(params.data_root, "finetune")
    name = params.dataset
    if name == "auto":
        found = get_spec("livec").locate(data_root) if data_root is not None else None
        name = "livec" if found is not None else "synthetic"
    return open_dataset(
        name, data_root, allow_partial=params.allow_partial,
        max_items=params.max_items, seed=seed, synthetic=synthetic,
        higher_better=not params.lower_better,
    )  # fmt: skip


def fit_config(params: FinetuneParams, seed: int = 0):
    """The :class:`bench.fit.FitConfig` for ``params``."""
    from bench.features import InputConfig
    from bench.finetune import FinetuneConfig
    from bench.fit import FitConfig
    from qpt_base.device import resolve_device

    return FitConfig(
        head=params.head,
        split=params.split,
        test_fraction=params.test_fraction,
        val_fraction=params.val_fraction,
        seed=seed,
        patience=params.patience,
        device=str(resolve_device(params.device)),
        inputs=InputConfig(params.crops, params.input_mode, params.frames, params.batch_size),
        finetune=FinetuneConfig(
            params.epochs,
            params.finetune_batch_size,
            params.lr,
            params.layer_decay,
            params.weight_decay,
            seed=seed,
        ),  # fmt: skip
    )


def fit_scorer_folder(
    params: FinetuneParams,
    out_dir: Path,
    *,
    seed: int = 0,
    console: Console | None = None,
    backbone: Backbone | None = None,
) -> dict:
    """Fit the scorer into ``out_dir``; returns its test metrics and where it is.

    Args:
        params: what to fit; ``params.checkpoint`` is recorded as the backbone's spec.
        out_dir: the scorer folder (created; an interrupted fine-tuning resumes from it).
        seed: seed of the split, the subset and of training.
        console: where progress goes (default: stderr).
        backbone: the backbone, already resolved (default: ``params.checkpoint`` parsed).

    Raises:
        ValueError: bad parameters, no checkpoint, an unknown dataset or backbone, a bad CSV.
        FileNotFoundError: a missing data root, backbone or file.
    """
    from bench.backbones import parse_backbone
    from bench.fit import fit_scorer

    if params.checkpoint is None:
        raise ValueError("finetune: no checkpoint given")
    backbone = backbone or parse_backbone(params.checkpoint)
    dataset = _open(params, seed)
    cfg = fit_config(params, seed)
    scorer = fit_scorer(backbone, dataset, cfg, out_dir, params.checkpoint, console)
    meta = scorer.meta
    return {
        "scorer": str(out_dir),
        "dataset": meta["fitted_on"]["dataset"],
        "split": meta["fitted_on"]["split"],
        "head": meta["head"],
        "n_train": meta["fitted_on"]["n_train"],
        "n_test": meta["fitted_on"]["n_test"],
        "test_srcc": round(meta["test"]["srcc"], 4),
        "test_plcc": round(meta["test"]["plcc"], 4),
    }
