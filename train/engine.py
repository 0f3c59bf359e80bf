"""MAE-style pretraining, minimal: :func:`pretrain` trains (or continues) a run in a folder.

The parts, each in its own module:

* :mod:`train.optim`: AdamW without decay on norms / biases / tokens / tables; lr = blr x
  effective batch / 256; linear warm-up then cosine.
* :mod:`train.trainer`: :func:`~train.trainer.build_model` and one optimiser step
  (accumulation, DDP, clipping, bf16 autocast on CUDA, degradation on the device or in the
  loader workers).
* :mod:`train.loop`: the resumable loop (data epochs of ``ckpt_every`` steps, so resume is
  exact; a non-finite loss stops the run with a checkpoint and the step number).
* :mod:`train.metrics`: ``metrics.jsonl`` and the progress bar;
  :mod:`train.checkpoint`: checkpoint files, resume checks, export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from . import distributed as D
from .checkpoint import export_encoder, latest_checkpoint
from .config import PretrainParams
from .data import ShardStream, make_loader, resolve_shards
from .loop import Loop, resume
from .metrics import METRICS_FILE
from .trainer import NonFiniteLoss, StepOutput, Trainer, build_model
from .visualize import loss_curve

__all__ = ["NonFiniteLoss", "StepOutput", "Trainer", "build_model", "pretrain"]


def pretrain(
    params: PretrainParams,
    out_dir: Path,
    shards: str | Path | list[str],
    seed: int = 0,
    console: Console | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train (or continue training) in ``out_dir``; returns a summary.

    Args:
        shards: folder / pattern / list (see :func:`train.data.resolve_shards`).
        seed: the run's seed, unless ``params.seed`` names one. The seed in effect is
            recorded in every checkpoint; resuming with another is refused.
        stop_after: stop (with a checkpoint) after this many steps in *this* call, e.g. to
            fit a job slot; a later call continues. The run is then not complete.

    Writes ``checkpoints/``, ``metrics.jsonl``, ``images/step-*.png``, ``loss.png`` and, when
    complete, ``export/`` (encoder + config for ``bench``).

    Raises:
        FileNotFoundError: no shards.
        ValueError: bad shards, a checkpoint that is corrupt or was written with other
            parameters (seed included), or a non-finite loss (after saving a checkpoint).
    """
    console = console or Console(stderr=True)
    if params.seed is None:
        params = params.model_copy(update={"seed": seed})
    info = D.setup(params.device)
    try:
        return _pretrain(params, Path(out_dir), shards, console, stop_after, progress, info)
    finally:
        D.teardown(info)


def _pretrain(
    params: PretrainParams,
    out_dir: Path,
    shards: str | Path | list[str],
    console: Console,
    stop_after: int | None,
    progress: bool,
    info: D.DistInfo,
) -> dict[str, Any]:
    seed = params.seed
    urls = resolve_shards(shards)
    if params.cpu_threads and info.device.type == "cpu":
        torch.set_num_threads(params.cpu_threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(params, info, model=build_model(params, info.device, seed))
    start = resume(trainer, out_dir, console)
    stream = _stream(urls, params, seed, trainer.degrade_in_loader)
    loader = make_loader(stream, params.num_workers, pin_memory=info.device.type == "cuda")
    config = _checkpoint_config(trainer)
    loop = Loop(trainer, start, stream, loader, out_dir, seed, config, stop_after)
    loop.run(console, progress)
    export_dir = _finish(loop) if loop.done and info.is_main else None
    D.barrier(info)
    return _summary(loop, start.checkpoint, export_dir, len(urls))


def _stream(
    urls: list[str], params: PretrainParams, seed: int, degrade_in_loader: bool
) -> ShardStream:
    """The run's shard stream: one data epoch = ``ckpt_every`` optimiser steps."""
    return ShardStream(
        urls,
        params.img_size,
        params.batch_size,
        params.ckpt_every * params.accum_steps,
        seed,
        params.crop,
        params.resize_to,
        params.max_image_pixels,
        params.shuffle_buffer,
        params.crops_per_image,
        params.degrade if degrade_in_loader else None,
    )


def _checkpoint_config(trainer: Trainer) -> dict[str, Any]:
    """``config.json`` of every checkpoint (the step is added when saving)."""
    params, info = trainer.params, trainer.info
    config = {"model": params.model, "model_kwargs": trainer.model.model_kwargs}
    config["params"] = params.model_dump(mode="json")
    config["world_size"], config["effective_batch"] = info.world, trainer.effective_batch
    return config


def _finish(loop: Loop) -> Path:
    """A complete run's last picture, ``loss.png`` and ``export/`` (rank 0)."""
    out_dir, state = loop.out_dir, loop.state
    if loop.last is not None and state.step % loop.params.image_every:
        loop.save_images()
    loss_curve(out_dir / METRICS_FILE, out_dir / "loss.png")
    final = latest_checkpoint(out_dir / "checkpoints")
    return export_encoder(final, out_dir / "export", {"pretrain_steps": state.step})


def _summary(
    loop: Loop, resumed_from: Path | None, export_dir: Path | None, n_shards: int
) -> dict[str, Any]:
    state, trainer = loop.state, loop.trainer
    return {
        "complete": loop.done,
        "steps": state.step,
        "stopped_by": state.stopped_by or "stop_after",
        "resumed_from": str(resumed_from) if resumed_from else None,
        "model": loop.params.model,
        "seed": loop.seed,
        "world_size": loop.info.world,
        "effective_batch": trainer.effective_batch,
        "lr": trainer.lr,
        "first_loss": state.first_loss,
        "final_loss": state.last_loss,
        "images_seen": state.images_seen,
        "img_per_s": round(state.images_seen / max(1e-9, state.elapsed_s), 2),
        "elapsed_s": round(state.elapsed_s, 1),
        "skipped_samples": sum(state.skipped.values()),
        "skipped_by_reason": state.skipped,
        "resampled_images": state.resampled,
        "shards": n_shards,
        "export": str(export_dir) if export_dir else None,
    }
