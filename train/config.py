"""Pretraining parameters (the ``pretrain`` stage table, the ``qpt pretrain`` options).

Named recipes, from a CPU smoke run to the paper-scale HiViT-B one, are ``[recipe.NAME]``
tables of qpt's ``pipelines.toml``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from qpt_base.images import MAX_PIXELS


class PretrainParams(BaseModel):
    """Everything a pretraining run depends on. Batch sizes are per device and micro-step.

    The data epoch (reseeding of shard order, crops, masks and degradations) is
    ``ckpt_every`` optimiser steps long, so a resume from any checkpoint is exact.
    """

    model_config = ConfigDict(extra="forbid")

    shards: str | None = Field(
        None,
        description="Shard folder, brace pattern 'shard-{000000..000009}.tar', glob, or URLs "
        "as webdataset takes them (pipe:CMD, https://..., fsspec s3://...; default: the shard "
        "stage's).",
    )
    model: str = Field("mae_qpt_hivit_nano", description="Registered mae_* model.")
    init: str | None = Field(
        None,
        description="Start from these weights: a `qpt convert` or `qpt pretrain export` "
        "folder (the full MAE when it holds one, else the encoder); resumes ignore it.",
    )
    img_size: int = Field(224, ge=32, multiple_of=16, description="Crop side (px).")
    msff: bool | None = Field(None, description="Multi-scale decoder input (default: the model's).")
    msff_fusion: Literal["hifeat", "sum", "concat"] | None = Field(
        None,
        description="hifeat: the authors' (one LayerNorm over all stages, default of "
        "mae_hivit_*); sum / concat: qpt's MSFF (default of mae_qpt_*).",
    )
    decoder_dim: int | None = Field(None, ge=8, description="Decoder width (default: the model's).")
    decoder_depth: int | None = Field(
        None, ge=1, description="Decoder depth (default: the model's)."
    )
    decoder_heads: int | None = Field(
        None, ge=1, description="Decoder heads (default: the model's)."
    )
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="Stochastic depth rate.")
    mask_ratio: float = Field(0.75, ge=0.0, lt=1.0, description="Share of patches masked.")
    norm_pix_loss: bool = Field(True, description="Normalise target pixels per patch.")
    target: Literal["degraded", "clean"] = Field(
        "degraded", description="Reconstruct the degraded input or the clean image."
    )
    seed: int | None = Field(
        None,
        description="The run's seed (init, data order, crops, masks, degradations); default: "
        "the pipeline's or --seed. Recorded in checkpoints: a resume must match it.",
    )
    degrade: str | None = Field(
        "qpt-v2", description="Degrade preset; 'none' (TOML has no null) = no degradation."
    )
    degrade_on: Literal["auto", "device", "loader"] = Field(
        "auto",
        description="Where batches are degraded: the training device (auto on CUDA) or the "
        "loader workers (auto on CPU, so degradation overlaps the step).",
    )
    crop: Literal["native", "resize"] = Field(
        "native", description="Native-resolution crops, or resize to resize_to first."
    )
    resize_to: int | None = Field(None, ge=32, description="Short side before crop='resize'.")
    max_image_pixels: int = Field(MAX_PIXELS, ge=1, description="Decompression-bomb cap.")
    crops_per_image: int = Field(1, ge=1, description="Native crops per decoded image.")
    shuffle_buffer: int = Field(256, ge=0, description="Crops mixed before batching.")

    steps: int = Field(1000, ge=1, description="Optimiser steps (the schedule length).")
    time_budget_s: float | None = Field(
        None, gt=0, description="Stop early after this many seconds, complete."
    )
    batch_size: int = Field(64, ge=1, description="Per device and micro-step.")
    accum_steps: int = Field(1, ge=1, description="Micro-steps per optimiser step.")
    blr: float = Field(1.5e-4, gt=0, description="Base lr: lr = blr * effective batch / 256.")
    min_lr: float = Field(0.0, ge=0, description="Floor of the cosine schedule.")
    warmup_steps: int = Field(100, ge=0, description="Linear warmup steps.")
    weight_decay: float = Field(0.05, ge=0, description="AdamW weight decay.")
    betas: tuple[float, float] = Field((0.9, 0.95), description="AdamW betas, e.g. [0.9, 0.95].")
    clip_grad: float | None = Field(3.0, gt=0, description="Gradient-norm clip.")
    amp: Literal["auto", "bf16", "off"] = Field("auto", description="Mixed precision.")
    compile: bool = Field(False, description="torch.compile the model.")
    channels_last: bool = Field(False, description="channels_last memory format.")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")
    num_workers: int = Field(2, ge=0, description="Loader worker processes.")
    cpu_threads: int | None = Field(
        None, ge=1, description="Torch threads of a CPU run (workers + threads <= cores)."
    )

    ckpt_every: int = Field(200, ge=1, description="Steps between checkpoints (a data epoch).")
    keep_ckpts: int = Field(2, ge=1, description="Checkpoints kept.")
    log_every: int = Field(10, ge=1, description="Steps between metric lines.")
    image_every: int = Field(200, ge=1, description="Steps between reconstruction pictures.")

    @field_validator("degrade", mode="before")
    @classmethod
    def _none_means_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.lower() in ("none", "off", "") else value

    @model_validator(mode="after")
    def _check(self) -> PretrainParams:
        if not self.model.startswith("mae_"):
            raise ValueError(f"model must be a mae_* pretraining model, got '{self.model}'")
        if self.crop == "resize" and (self.resize_to is None or self.resize_to < self.img_size):
            raise ValueError("crop = 'resize' needs resize_to >= img_size")
        if self.warmup_steps >= self.steps and self.steps > 1:
            raise ValueError(f"warmup_steps ({self.warmup_steps}) must be < steps ({self.steps})")
        return self

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``create_model(self.model, ...)``."""
        kw: dict[str, Any] = dict(
            img_size=self.img_size,
            mask_ratio=self.mask_ratio,
            norm_pix_loss=self.norm_pix_loss,
        )
        if self.drop_path_rate:
            kw["drop_path_rate"] = self.drop_path_rate
        for k in ("msff", "msff_fusion", "decoder_dim", "decoder_depth", "decoder_heads"):
            if getattr(self, k) is not None:
                kw[k] = getattr(self, k)
        return kw
