"""The pretraining engine (MAE-style, minimal): one optimiser step, and the resumable loop.

* AdamW (betas 0.9/0.95), weight decay 0.05 except norms, biases, mask token and relative
  position tables; lr = blr x effective batch / 256; linear warm-up then cosine.
* Gradient accumulation (DDP ``no_sync`` on the inner micro-steps), clipping, bf16 autocast
  on CUDA, optional ``torch.compile`` and channels-last.
* Degradation runs on whole batches on the training device: on CUDA here, before the step;
  on CPU (``degrade_on="auto"``) inside the loader workers, so it overlaps the step.
* Checkpoints every ``ckpt_every`` steps (= one data epoch, so resume is exact); a
  non-finite loss stops the run with a checkpoint and the step number.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import Tensor, nn

from . import distributed as D
from .checkpoint import export_encoder, latest_checkpoint, load_checkpoint, save_checkpoint
from .config import PretrainParams
from .data import ShardStream, make_loader, resolve_shards
from .init import init_from
from .models import create_model
from .visualize import loss_curve, read_metrics, reconstruction_grid

NO_DECAY = ("mask_token", "relative_position_bias_table")
# parameters a resumed run may change (they do not alter the model, schedule or data recipe)
RESUMABLE_CHANGES = {
    "log_every",
    "image_every",
    "keep_ckpts",
    "time_budget_s",
    "shards",
    "device",
    "compile",
    "channels_last",
    "cpu_threads",
    "num_workers",
    "amp",
    "degrade_on",
}


def check_resume_params(ckpt: Path, params: PretrainParams) -> None:
    """Refuse to continue a checkpoint written with another recipe (schedule, data, model).

    Raises:
        ValueError: naming the first differing parameter and both values.
    """
    try:
        saved = json.loads((ckpt / "config.json").read_text()).get("params", {})
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{ckpt / 'config.json'}: unreadable ({e})") from None
    now = params.model_dump(mode="json")
    diff = [k for k in now if k not in RESUMABLE_CHANGES and k in saved and saved[k] != now[k]]
    if diff:
        k = diff[0]
        raise ValueError(
            f"{ckpt}: written with {k}={saved[k]!r}, this run has {k}={now[k]!r}"
            f" ({len(diff)} parameter(s) differ); use another output folder to start afresh"
        )


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: decayed matrices, and undecayed norms / biases / tokens / tables."""
    from timm.optim import param_groups_weight_decay

    names = [n for n, _ in model.named_parameters() if n.split(".")[-1] in NO_DECAY]
    return param_groups_weight_decay(model, weight_decay, no_weight_decay_list=names)


def make_scheduler(
    opt: torch.optim.Optimizer, steps: int, warmup: int, lr: float, min_lr: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """Linear warm-up from ~0 over ``warmup`` steps, then cosine down to ``min_lr``."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    cosine = CosineAnnealingLR(opt, T_max=max(1, steps - warmup), eta_min=min(min_lr, lr))
    if warmup == 0:
        return cosine
    ramp = LinearLR(opt, start_factor=1.0 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    return SequentialLR(opt, [ramp, cosine], milestones=[warmup])


@dataclass
class StepOutput:
    loss: float
    images: int
    clean: Tensor
    degraded: Tensor
    pred: Tensor
    mask: Tensor


class NonFiniteLoss(Exception):
    """Raised by :meth:`Trainer.step` (on every rank) when a loss is NaN or infinite."""


class Trainer:
    """Model, optimiser, schedule, degradation and RNG of one rank; :meth:`step` does one
    optimiser step from ``accum_steps`` uint8 batches.

    Args:
        params: the run's parameters.
        info: distributed info (:func:`train.distributed.setup`).
        effective_batch: images per optimiser step over all ranks (for the lr rule).
        seed: model init seed (identical on every rank).
    """

    def __init__(self, params: PretrainParams, info: D.DistInfo, seed: int = 0) -> None:
        self.params, self.info, self.device = params, info, info.device
        torch.manual_seed(seed)
        self.model = create_model(params.model, **params.model_kwargs())
        if params.init:
            init_from(self.model, params.init)
        self.model = self.model.to(self.device)
        if params.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.module: nn.Module = self.model
        if info.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module = DDP(self.model, device_ids=ids)
        self.forward = torch.compile(self.module) if params.compile else self.module
        self.effective_batch = params.batch_size * params.accum_steps * info.world
        self.lr = params.blr * self.effective_batch / 256
        self.opt = torch.optim.AdamW(
            param_groups(self.model, params.weight_decay),
            lr=self.lr,
            betas=params.betas,
            fused=self.device.type in ("cpu", "cuda"),
        )
        self.sched = make_scheduler(
            self.opt, params.steps, params.warmup_steps, self.lr, params.min_lr
        )
        self.generator = torch.Generator(device=self.device)
        self.degrader = None
        self.degrade_in_loader = params.degrade is not None and (
            params.degrade_on == "loader"
            or (params.degrade_on == "auto" and self.device.type == "cpu")
        )
        if params.degrade and not self.degrade_in_loader:
            import degrade

            self.degrader = degrade.Degrader(params.degrade)
        use_bf16 = params.amp == "bf16" or (params.amp == "auto" and self.device.type == "cuda")
        self.autocast_dtype = torch.bfloat16 if use_bf16 else None

    # ---- RNG: reseeded per data epoch; saved per rank for mid-epoch resumes
    def reseed(self, seed: int, epoch: int) -> None:
        import webdataset as wds

        s = wds.utils.make_seed(seed, epoch, self.info.rank, 1)
        self.generator.manual_seed(s)
        torch.manual_seed(s)  # dropout / drop-path

    def rng_state(self) -> dict[str, Tensor]:
        state = {"generator": self.generator.get_state(), "cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def set_rng_state(self, state: dict[str, Tensor]) -> None:
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["cpu"])
        if "cuda" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda"], self.device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def prepare(self, batch: Tensor | dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """A loader batch (or bare uint8 images) -> (clean, degraded) float [0, 1] on the
        device; a batch the loader already degraded keeps its ``"degraded"`` images."""
        images = batch["images"] if isinstance(batch, dict) else batch
        x = images.to(self.device, non_blocking=True).float().div_(255)
        if self.params.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if isinstance(batch, dict) and "degraded" in batch:
            y = batch["degraded"].to(self.device, non_blocking=True)
            if self.params.channels_last:
                y = y.contiguous(memory_format=torch.channels_last)
            return x, y
        if self.degrader is None:
            return x, x
        with torch.no_grad():
            y, _ = self.degrader(x, generator=self.generator)
        return x, y.clamp_(0, 1)

    def step(self, batches: list[Tensor | dict[str, Tensor]]) -> StepOutput:
        """One optimiser step over ``len(batches)`` micro-batches (see :meth:`prepare`).

        Raises:
            NonFiniteLoss: some rank saw a NaN/inf loss (weights not updated).
        """
        self.module.train()
        total, n, out = 0.0, 0, None
        for i, batch in enumerate(batches):
            clean, degraded = self.prepare(batch)
            target = clean if self.params.target == "clean" else None
            last = i == len(batches) - 1
            sync = contextlib.nullcontext()
            if not last and hasattr(self.module, "no_sync"):
                sync = self.module.no_sync()
            with sync:
                with self._autocast():
                    loss, pred, mask = self.forward(degraded, target, generator=self.generator)
                value = loss.item()
                if D.any_true(not math.isfinite(value), self.info):
                    self.opt.zero_grad(set_to_none=True)
                    raise NonFiniteLoss(f"{value}")
                (loss / len(batches)).backward()
            total += value
            n += clean.shape[0]
            out = (clean, degraded, pred, mask)
        if self.params.clip_grad:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.params.clip_grad)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        self.sched.step()
        clean, degraded, pred, mask = out
        return StepOutput(total / len(batches), n, clean, degraded, pred.detach(), mask)


@dataclass
class RunState:
    """Counters kept in checkpoints."""

    step: int = 0
    images_seen: int = 0
    elapsed_s: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)
    resampled: int = 0
    stopped_by: str = ""
    first_loss: float | None = None
    last_loss: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _trim_metrics(path: Path, step: int) -> None:
    """Drop metric lines written after the checkpoint we resume from (a crashed tail)."""
    if path.is_file():
        keep = [r for r in read_metrics(path) if r.get("step", 0) <= step]
        path.write_text("".join(json.dumps(r) + "\n" for r in keep))


class _Logger:
    """metrics.jsonl (+ TensorBoard when installed), rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.path = out_dir / "metrics.jsonl"
        self.enabled, self.tb = enabled, None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                pass

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, int | float):
                    self.tb.add_scalar(f"pretrain/{k}", v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def _progress(console: Console, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("pretrain"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}"),
        TextColumn("{task.fields[ips]:.1f} img/s"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


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
        stop_after: stop (with a checkpoint) after this many steps in *this* call, e.g. to
            fit a job slot; a later call continues. The run is then not complete.

    Writes ``checkpoints/``, ``metrics.jsonl``, ``images/step-*.png``, ``loss.png`` and, when
    complete, ``export/`` (encoder + config for ``bench``).

    Raises:
        FileNotFoundError: no shards.
        ValueError: bad shards or checkpoint, or a non-finite loss (after saving a checkpoint).
    """
    console = console or Console(stderr=True)
    info = D.setup(params.device)
    try:
        return _pretrain(params, Path(out_dir), shards, seed, console, stop_after, progress, info)
    finally:
        D.teardown(info)


def _pretrain(params, out_dir, shards, seed, console, stop_after, progress, info) -> dict:
    urls = resolve_shards(shards)
    if params.cpu_threads and info.device.type == "cpu":
        torch.set_num_threads(params.cpu_threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_root = out_dir / "checkpoints"
    trainer = Trainer(params, info, seed)
    state = RunState()
    spe = params.ckpt_every  # optimiser steps per data epoch
    mid_epoch_rng = None
    resumed_from = None
    ckpt = latest_checkpoint(ckpt_root)
    if ckpt is not None:
        check_resume_params(ckpt, params)
        saved = load_checkpoint(ckpt, trainer.model, map_location=info.device)
        trainer.opt.load_state_dict(saved["optimizer"])
        trainer.sched.load_state_dict(saved["scheduler"])
        state = RunState(**saved["run"])
        ranks = saved.get("rng", [])
        if state.step % spe and len(ranks) == info.world:
            mid_epoch_rng = ranks[info.rank]
        resumed_from = str(ckpt)
        if info.is_main:
            _trim_metrics(out_dir / "metrics.jsonl", state.step)
            console.print(f"pretrain: resuming from {ckpt} (step {state.step})")

    config = {"model": params.model, "model_kwargs": trainer.model.model_kwargs}
    config["params"] = params.model_dump(mode="json")
    config["world_size"], config["effective_batch"] = info.world, trainer.effective_batch

    def checkpoint() -> Path | None:
        rng = D.gather(trainer.rng_state(), info)
        path = None
        if info.is_main:
            extra = {"optimizer": trainer.opt.state_dict(), "scheduler": trainer.sched.state_dict()}
            extra.update(run=state.as_dict(), rng=rng)
            path = save_checkpoint(
                ckpt_root, state.step, trainer.model, extra, config, params.keep_ckpts
            )
        D.barrier(info)
        return path

    done = state.step >= params.steps or state.stopped_by == "time_budget"
    stream = ShardStream(
        urls,
        params.img_size,
        params.batch_size,
        spe * params.accum_steps,
        seed,
        params.crop,
        params.resize_to,
        params.max_image_pixels,
        params.shuffle_buffer,
        params.crops_per_image,
        params.degrade if trainer.degrade_in_loader else None,
    )
    loader = make_loader(stream, params.num_workers, pin_memory=info.device.type == "cuda")
    logger = _Logger(out_dir, info.is_main)
    steps_this_call, t_window, n_window = 0, time.perf_counter(), 0
    t_start, elapsed0, ips = time.perf_counter(), state.elapsed_s, 0.0
    last = None
    try:
        with _progress(console, progress and info.is_main) as bar:
            lr0 = trainer.sched.get_last_lr()[0]
            task = bar.add_task(
                "pretrain",
                total=params.steps,
                completed=state.step,
                loss=float("nan"),
                lr=lr0,
                ips=0.0,
            )
            while not done:
                epoch, offset = divmod(state.step, spe)
                stream.set_epoch(epoch)
                if mid_epoch_rng is not None:
                    trainer.set_rng_state(mid_epoch_rng)
                    mid_epoch_rng = None
                else:
                    trainer.reseed(seed, epoch)
                it = iter(loader)
                for _ in range(offset * params.accum_steps):  # resume mid-epoch: skip seen
                    next(it)
                for _ in range(offset, spe):
                    micro = [next(it) for _ in range(params.accum_steps)]
                    for b in micro:
                        for k, v in b["skipped"].items():
                            state.skipped[k] = state.skipped.get(k, 0) + v
                        state.resampled += b["resampled"]
                    lr = trainer.sched.get_last_lr()[0]  # the lr this step uses
                    try:
                        last = trainer.step(micro)
                    except NonFiniteLoss as e:
                        path = checkpoint()
                        raise ValueError(
                            f"pretrain: non-finite loss ({e}) at step {state.step + 1}; "
                            f"checkpoint of step {state.step} saved in {path or ckpt_root}; "
                            "lower blr or set clip_grad"
                        ) from None
                    state.step += 1
                    steps_this_call += 1
                    state.images_seen += last.images * info.world
                    n_window += last.images * info.world
                    state.elapsed_s = elapsed0 + time.perf_counter() - t_start
                    state.first_loss = state.first_loss if state.first_loss else last.loss
                    state.last_loss = last.loss
                    if state.step % params.log_every == 0 or state.step == params.steps:
                        loss = D.all_mean(last.loss, info)
                        ips = n_window / max(1e-9, time.perf_counter() - t_window)
                        t_window, n_window = time.perf_counter(), 0
                        logger.log(
                            dict(step=state.step, loss=loss, lr=lr, img_per_s=ips, epoch=epoch)
                            | dict(elapsed_s=round(state.elapsed_s, 2))
                        )
                        bar.update(task, loss=loss, ips=ips)
                    bar.update(task, completed=state.step, lr=lr)
                    if info.is_main and (
                        state.step % params.image_every == 0 or state.step == params.steps
                    ):
                        _save_images(
                            trainer, last, out_dir / "images" / f"step-{state.step:08d}.png"
                        )
                    over_budget = params.time_budget_s is not None and D.any_true(
                        state.elapsed_s >= params.time_budget_s, info
                    )
                    if state.step >= params.steps or over_budget:
                        state.stopped_by = "steps" if state.step >= params.steps else "time_budget"
                        done = True
                    stop_now = done or (stop_after is not None and steps_this_call >= stop_after)
                    if state.step % params.ckpt_every == 0 or stop_now:
                        checkpoint()
                    if stop_now:
                        break
                del it
                if stop_after is not None and steps_this_call >= stop_after:
                    break
    finally:
        logger.close()

    export_dir = None
    if done and info.is_main:
        if last is not None and state.step % params.image_every:
            _save_images(trainer, last, out_dir / "images" / f"step-{state.step:08d}.png")
        loss_curve(out_dir / "metrics.jsonl", out_dir / "loss.png")
        final = latest_checkpoint(ckpt_root)
        export_dir = export_encoder(final, out_dir / "export", {"pretrain_steps": state.step})
    D.barrier(info)
    total_skipped = sum(state.skipped.values())
    return {
        "complete": done,
        "steps": state.step,
        "stopped_by": state.stopped_by or "stop_after",
        "resumed_from": resumed_from,
        "model": params.model,
        "world_size": info.world,
        "effective_batch": trainer.effective_batch,
        "lr": trainer.lr,
        "first_loss": state.first_loss,
        "final_loss": state.last_loss,
        "images_seen": state.images_seen,
        "img_per_s": round(state.images_seen / max(1e-9, state.elapsed_s), 2),
        "elapsed_s": round(state.elapsed_s, 1),
        "skipped_samples": total_skipped,
        "skipped_by_reason": state.skipped,
        "resampled_images": state.resampled,
        "shards": len(urls),
        "export": str(export_dir) if export_dir else None,
    }


def _save_images(trainer: Trainer, out: StepOutput, path: Path) -> None:
    p = trainer.params
    target = out.clean if p.target == "clean" else out.degraded
    reconstruction_grid(
        out.clean,
        out.degraded,
        target,
        out.pred,
        out.mask,
        trainer.model.encoder.patch_size,
        p.norm_pix_loss,
        path,
        target_norm=getattr(trainer.model, "target_norm", None),
    )
