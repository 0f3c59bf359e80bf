"""Pretraining parameters (the ``pretrain`` stage table, the ``qpt pretrain`` options) and
named recipes from a CPU smoke run to the paper-scale HiViT-B recipe."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)


class PretrainParams(BaseModel):
    """Everything a pretraining run depends on. Batch sizes are per device and micro-step.

    The data epoch (reseeding of shard order, crops, masks and degradations) is
    ``ckpt_every`` optimiser steps long, so a resume from any checkpoint is exact.
    """

    model_config = ConfigDict(extra="forbid")

    shards: str | None = Field(
        None, description="shard folder / brace pattern / glob; default: the shard stage"
    )
    model: str = Field("mae_qpt_hivit_nano", description="registered mae_* model")
    init: str | None = Field(
        None,
        description="start from these weights: a `qpt convert` or `qpt pretrain export` "
        "folder (the full MAE when it holds one, else the encoder); resumes ignore it",
    )
    img_size: int = Field(224, ge=32, multiple_of=16)
    msff: bool | None = Field(None, description="multi-scale decoder input; default: the model's")
    msff_fusion: Literal["hifeat", "sum", "concat"] | None = Field(
        None,
        description="hifeat: the authors' (one LayerNorm over all stages, default of "
        "mae_hivit_*); sum / concat: qpt's MSFF (default of mae_qpt_*)",
    )
    decoder_dim: int | None = Field(None, ge=8, description="default: the model's")
    decoder_depth: int | None = Field(None, ge=1)
    decoder_heads: int | None = Field(None, ge=1)
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0)
    mask_ratio: float = Field(0.75, ge=0.0, lt=1.0)
    norm_pix_loss: bool = True
    target: Literal["degraded", "clean"] = "degraded"
    degrade: str | None = Field(
        "qpt-v2", description="degrade preset; 'none' (TOML has no null) = no degradation"
    )
    degrade_on: Literal["auto", "device", "loader"] = Field(
        "auto",
        description="where batches are degraded: the training device (auto on CUDA) or the "
        "loader workers (auto on CPU, so degradation overlaps the step)",
    )
    crop: Literal["native", "resize"] = "native"
    resize_to: int | None = Field(None, ge=32)
    max_image_pixels: int = Field(89_478_485, ge=1)
    crops_per_image: int = Field(1, ge=1, description="native crops per decoded image")
    shuffle_buffer: int = Field(256, ge=0, description="crops mixed before batching")

    steps: int = Field(1000, ge=1, description="optimiser steps (the schedule length)")
    time_budget_s: float | None = Field(None, gt=0, description="stop early, complete")
    batch_size: int = Field(64, ge=1)
    accum_steps: int = Field(1, ge=1)
    blr: float = Field(1.5e-4, gt=0, description="lr = blr * effective batch / 256")
    min_lr: float = Field(0.0, ge=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.05, ge=0)
    betas: tuple[float, float] = (0.9, 0.95)
    clip_grad: float | None = Field(3.0, gt=0)
    amp: Literal["auto", "bf16", "off"] = "auto"
    compile: bool = False
    channels_last: bool = False
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    num_workers: int = Field(2, ge=0)
    cpu_threads: int | None = Field(
        None, ge=1, description="torch threads of a CPU run (workers + threads <= cores)"
    )

    ckpt_every: int = Field(200, ge=1)
    keep_ckpts: int = Field(2, ge=1)
    log_every: int = Field(10, ge=1)
    image_every: int = Field(200, ge=1)

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


RECIPES: dict[str, dict[str, Any]] = {
    # a few minutes on 2 CPU cores: proves the whole path, learns a little
    "cpu-smoke": dict(
        model="mae_qpt_hivit_nano",
        img_size=96,
        batch_size=16,
        steps=300,
        warmup_steps=20,
        blr=1.5e-3,
        time_budget_s=240,
        ckpt_every=100,
        image_every=100,
        log_every=5,
        num_workers=1,
        cpu_threads=1,
        crops_per_image=4,
        device="cpu",
    ),
    # one GPU, the authors' HiViT-T MAE at 224 (the released QPT V2 IQA/IAA backbone)
    "hivit-tiny-1gpu": dict(
        model="mae_hivit_tiny",
        img_size=224,
        batch_size=256,
        steps=50_000,
        warmup_steps=2_500,
        blr=1.5e-4,
        drop_path_rate=0.0,
        ckpt_every=1_000,
        image_every=2_000,
        log_every=50,
        num_workers=8,
        amp="auto",
        channels_last=True,
    ),
    # paper scale: the authors' HiViT-B MAE (decoder 512 x 6), effective batch 4096 on
    # 8 GPUs (x N nodes: lower accum_steps)
    "hivit-base-8gpu": dict(
        model="mae_hivit_base",
        img_size=224,
        batch_size=256,
        accum_steps=2,
        steps=100_000,
        warmup_steps=5_000,
        blr=1.5e-4,
        weight_decay=0.05,
        ckpt_every=1_000,
        image_every=5_000,
        log_every=50,
        num_workers=10,
        amp="auto",
        compile=True,
        channels_last=True,
    ),
}


def recipe(name: str, **overrides: Any) -> PretrainParams:
    """``PretrainParams`` of a named recipe with ``overrides`` applied.

    Raises:
        ValueError: unknown recipe or invalid override.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown pretrain recipe '{name}'; known: {', '.join(RECIPES)}")
    try:
        return PretrainParams(**{**RECIPES[name], **overrides})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "params"
        msg = first["msg"].removeprefix("Value error, ")
        raise ValueError(f"pretrain recipe '{name}': {where}: {msg}") from None
