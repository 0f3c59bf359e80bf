"""Pipeline stage ``finetune`` (and ``qpt finetune``): fit a scorer and save it in the stage folder.

The stage folder is the scorer folder (``qpt score PATH -m runs/<pipeline>/<stage>``). The
backbone is ``<pretrain stage>/export`` unless ``checkpoint`` names one (any spec of
:func:`bench.backbones.parse_backbone`, or ``stage:NAME`` for an earlier pretrain stage).

Example ``pipelines.toml`` table::

    [[pipeline.default.stage]]
    kind = "finetune"
    dataset = "synthetic"       # or livec, koniq, ... (qpt bench list), or a path,score CSV
    checkpoint = "handcrafted"  # default: the pretrain stage's export
    head = "linear"             # or finetune
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FinetuneParams(BaseModel):
    """Parameters of the ``finetune`` stage (and of ``qpt finetune``)."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(
        "synthetic",
        description="benchmark name (qpt bench list), synthetic, a CSV of path,score, or 'auto' "
        "(livec when found under data_root, else synthetic)",
    )
    checkpoint: str | None = Field(
        None,
        description="backbone spec (export folder, random:NAME, timm:NAME=FILE, handcrafted) or "
        "'stage:NAME'; default: the pretrain stage's export folder",
    )
    head: Literal["linear", "finetune"] = "linear"
    data_root: str | None = Field(
        "auto", description="folder holding the releases; 'auto' = ../shared/data if present"
    )
    split: Literal["auto", "official", "random"] = "auto"
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    val_fraction: float = Field(0.1, gt=0.0, lt=1.0)
    max_items: int | None = Field(None, ge=10, description="cap on samples (seeded subset)")
    crops: int = Field(1, ge=1, le=64, description="native-resolution crops per image")
    input_mode: Literal["crops", "resize"] = "crops"
    frames: int = Field(4, ge=1, le=256, description="frames sampled per video")
    batch_size: int = Field(32, ge=1, description="views per forward pass")
    epochs: int = Field(10, ge=1)
    lr: float = Field(2e-4, gt=0.0)
    finetune_batch_size: int = Field(16, ge=1)
    layer_decay: float = Field(0.75, gt=0.0, le=1.0)
    weight_decay: float = Field(0.05, ge=0.0)
    patience: int = Field(3, ge=1, description="epochs without a better val SRCC before stop")
    lower_better: bool = Field(False, description="CSV scores: lower is better (DMOS)")
    allow_partial: bool = False
    synthetic_photos: str = Field("builtin", description="'builtin' or a folder of photos")
    synthetic_n_photos: int | None = Field(None, ge=2, description="photos (none: all)")
    synthetic_max_ops: int | None = Field(8, ge=1)
    synthetic_size: int = Field(256, ge=64)
    synthetic_crops_per_photo: int = Field(
        4, ge=0, le=4, description="more synthetic sources: non-overlapping crops of each photo"
    )
    device: str = Field("cpu", description="'cpu', 'cuda', 'cuda:1' or 'auto'")


def _data_root(value: str | None) -> Path | None:
    from bench.datasets.registry import default_data_root

    if value == "auto":
        return default_data_root()
    if value is None:
        return None
    root = Path(value)
    if not root.is_dir():
        raise FileNotFoundError(f"finetune: data root {root} not found")
    return root


def run_finetune(ctx: Any, params: FinetuneParams) -> dict:
    """Fit the scorer into ``ctx.out_dir``; returns its test metrics and where it is.

    ``ctx`` is the runner's stage context (``out_dir``, ``seed``, ``console``, ``inputs``,
    ``input_of``).

    Raises:
        ValueError: bad parameters, an unknown dataset or backbone, a bad CSV.
        FileNotFoundError: a missing data root, backbone or file.
    """
    from bench.backbones import parse_backbone
    from bench.datasets import get_spec
    from bench.features import InputConfig
    from bench.finetune import FinetuneConfig
    from bench.fit import FitConfig, fit_scorer, open_dataset
    from bench.runner import SyntheticConfig
    from qpt_base.device import resolve_device

    spec = params.checkpoint or str(ctx.input_of("pretrain") / "export")
    if spec.startswith("stage:"):
        stage = spec.removeprefix("stage:")
        if stage not in ctx.inputs:
            raise ValueError(f"finetune: '{spec}' names no earlier stage")
        backbone = parse_backbone(str(ctx.inputs[stage] / "export"), name=stage)
    else:
        backbone = parse_backbone(spec)
    synthetic = SyntheticConfig(
        params.synthetic_photos, params.synthetic_n_photos, None, params.synthetic_max_ops,
        params.synthetic_size, params.synthetic_crops_per_photo,
    )  # fmt: skip
    data_root = _data_root(params.data_root)
    name = params.dataset
    if name == "auto":
        found = get_spec("livec").locate(data_root) if data_root is not None else None
        name = "livec" if found is not None else "synthetic"
    dataset = open_dataset(
        name, data_root, allow_partial=params.allow_partial,
        max_items=params.max_items, seed=ctx.seed, synthetic=synthetic,
        higher_better=not params.lower_better,
    )  # fmt: skip
    cfg = FitConfig(
        head=params.head,
        split=params.split,
        test_fraction=params.test_fraction,
        val_fraction=params.val_fraction,
        seed=ctx.seed,
        patience=params.patience,
        device=str(resolve_device(params.device)),
        inputs=InputConfig(params.crops, params.input_mode, params.frames, params.batch_size),
        finetune=FinetuneConfig(
            params.epochs,
            params.finetune_batch_size,
            params.lr,
            params.layer_decay,
            params.weight_decay,
            seed=ctx.seed,
        ),  # fmt: skip
    )
    scorer = fit_scorer(backbone, dataset, cfg, ctx.out_dir, spec, ctx.console)
    meta = scorer.meta
    return {
        "scorer": str(ctx.out_dir),
        "dataset": meta["fitted_on"]["dataset"],
        "split": meta["fitted_on"]["split"],
        "head": meta["head"],
        "n_train": meta["fitted_on"]["n_train"],
        "n_test": meta["fitted_on"]["n_test"],
        "test_srcc": round(meta["test"]["srcc"], 4),
        "test_plcc": round(meta["test"]["plcc"], 4),
    }
