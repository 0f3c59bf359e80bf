"""Parameters of a benchmark run (the ``bench`` stage table, the ``qpt bench`` options).

Defaults are sized for the default pipeline on 2 CPU cores (a few minutes): linear probe only,
3 splits, at most 200 samples per release dataset (the synthetic benchmark has its own size:
4,400 samples), one crop, CPU. :func:`make_config` turns them into the
:class:`bench.runner.BenchConfig` the runner takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: the synthetic benchmark's default size (docs/results.md says why): crops per photo, degrade
#: ops and image side; the one place the settings, the runner and the builder take them from
SYNTHETIC_CROPS_PER_PHOTO, SYNTHETIC_MAX_OPS, SYNTHETIC_SIZE = 9, 8, 256


class SyntheticSettings(BaseModel):
    """How large the synthetic benchmark is: the fields ``qpt bench`` and ``qpt finetune``
    share. The defaults (every built-in photo, 9 crops of each, 8 ops: 4,400 samples in 110
    content groups) bring the split-to-split SRCC std of every row of the default run to
    0.03-0.04 over 10 splits (docs/results.md)."""

    synthetic_photos: str = Field(
        "builtin",
        description="Synthetic benchmark photos: builtin or a folder.",
        json_schema_extra={"cli": "--photos"},
    )
    synthetic_n_photos: int | None = Field(
        None, ge=2, description="Photos of the synthetic benchmark (none: all)."
    )
    synthetic_crops_per_photo: int = Field(
        SYNTHETIC_CROPS_PER_PHOTO,
        ge=0,
        le=9,
        description="More synthetic sources: square crops of each photo (4: the corners, up to "
        "9: a 3x3 grid, neighbours overlapping), each its own content group.",
    )
    synthetic_max_ops: int | None = Field(
        SYNTHETIC_MAX_OPS, ge=1, description="Degrade ops of the synthetic benchmark (none: all)."
    )
    synthetic_size: int = Field(
        SYNTHETIC_SIZE, ge=64, description="Side of the synthetic images (px)."
    )

    def synthetic_config(self, ops: list[str] | None = None):
        """These settings as the :class:`bench.runner.SyntheticConfig` the loaders take."""
        from bench.runner import SyntheticConfig

        return SyntheticConfig(
            self.synthetic_photos,
            self.synthetic_n_photos,
            tuple(ops) if ops else None,
            self.synthetic_max_ops,
            self.synthetic_size,
            self.synthetic_crops_per_photo,
        )


class BenchParams(SyntheticSettings):
    """Parameters of the ``bench`` stage and of ``qpt bench``.

    ``json_schema_extra={"cli": ...}`` names a field's command-line flag where it is not the
    field name in kebab case.
    """

    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(
        None,
        description="Backbone: export folder, random:NAME, timm:NAME=FILE, open_clip:NAME=FILE, "
        "or stage:NAME (an earlier pretrain stage's export); default: the pretrain stage's "
        "export.",
        json_schema_extra={"cli": ["--checkpoint", "-c"]},
    )
    checkpoint_name: str | None = Field(
        None, description="Row label of the checkpoint (default: 'pretrained', or NAME)."
    )
    extra_backbones: list[str] = Field(
        [],
        description="More backbone rows (handcrafted, stage:NAME, timm:NAME=FILE, ...).",
        json_schema_extra={"cli": "--extra"},
    )
    datasets: list[str] = Field(["all"], description="Names, or 'all' (synthetic + found ones).")
    data_root: str | None = Field(
        "auto",
        description="Folder holding the dataset releases ('auto': ../shared/data if present).",
    )
    heads: list[Literal["linear", "finetune"]] = Field(
        ["linear"],
        description="linear (frozen features, ridge) and/or finetune.",
        json_schema_extra={"cli": "--head"},
    )
    n_splits: int = Field(
        3,
        ge=1,
        le=100,
        description="Random 80/20 splits where no official split exists.",
        json_schema_extra={"cli": "--splits"},
    )
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="Test share of a random split.")
    max_items: int | None = Field(
        200,
        ge=10,
        description="Cap per release dataset, seeded subset (none: use all); synthetic is "
        "sized by the synthetic_* fields.",
    )
    crops: int = Field(
        1, ge=1, le=64, description="Native-resolution crops per image at test, averaged."
    )
    input_mode: Literal["crops", "resize"] = Field(
        "crops", description="crops (native resolution) or resize (squash)."
    )
    frames: int = Field(
        4, ge=1, le=256, description="Frames sampled per video (features mean-pooled)."
    )
    batch_size: int = Field(32, ge=1, description="Images per feature-extraction batch.")
    fit: Literal["none", "logistic4"] = Field(
        "none", description="PLCC on raw predictions (none) or after logistic4."
    )
    allow_partial: bool = Field(
        False, description="Run on the files present when some are missing."
    )
    finetune_epochs: int = Field(3, ge=1, description="Epochs of the finetune head.")
    finetune_lr: float = Field(2e-4, gt=0.0, description="Learning rate of the finetune head.")
    finetune_batch_size: int = Field(16, ge=1, description="Batch size of the finetune head.")
    layer_decay: float = Field(
        0.75, gt=0.0, le=1.0, description="Layer-wise lr decay of the finetune head."
    )
    synthetic_ops: list[str] | None = Field(
        None, description="Named degrade ops of the synthetic benchmark (default: any)."
    )
    device: str = Field("cpu", description="cpu, cuda, cuda:N or auto.")


def default_data_root() -> Path | None:
    """``../shared/data`` next to the working directory or the repository, if present."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def resolve_data_root(value: str | None, who: str = "bench") -> Path | None:
    """The data root a ``data_root`` setting names: ``auto`` -> :func:`default_data_root`,
    None -> none, else the folder, which must exist.

    Raises:
        FileNotFoundError: ``value`` names no folder (the message starts with ``who``).
    """
    if value == "auto":
        return default_data_root()
    if value is None:
        return None
    root = Path(value)
    if not root.is_dir():
        raise FileNotFoundError(f"{who}: data root {root} not found")
    return root


def make_config(params: BenchParams, seed: int = 0):
    """The :class:`bench.runner.BenchConfig` for ``params``."""
    from bench.features import InputConfig
    from bench.finetune import FinetuneConfig
    from bench.runner import BenchConfig
    from qpt_base.device import resolve_device

    return BenchConfig(
        datasets=list(params.datasets),
        data_root=resolve_data_root(params.data_root),
        heads=tuple(params.heads),
        n_splits=params.n_splits,
        test_fraction=params.test_fraction,
        seed=seed,
        max_items=params.max_items,
        fit=params.fit,
        allow_partial=params.allow_partial,
        strict="all" not in params.datasets,
        device=str(resolve_device(params.device)),
        inputs=InputConfig(params.crops, params.input_mode, params.frames, params.batch_size),
        finetune=FinetuneConfig(
            params.finetune_epochs,
            params.finetune_batch_size,
            params.finetune_lr,
            params.layer_decay,
            seed=seed,
        ),
        synthetic=params.synthetic_config(params.synthetic_ops),
    )
