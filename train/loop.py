"""The resumable loop of one :func:`train.engine.pretrain` call.

A data epoch is ``ckpt_every`` optimiser steps: at its start the stream and every RNG are
reseeded from ``(seed, epoch, rank)``, and a checkpoint ends it, so a run resumed from any
checkpoint replays exactly what an uninterrupted run does (a checkpoint taken mid-epoch, by
``stop_after`` or a non-finite loss, also carries each rank's RNG states).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from torch import Tensor
from torch.utils.data import DataLoader

from . import distributed as D
from .checkpoint import (
    check_resume_params,
    latest_checkpoint,
    load_checkpoint,
    remove_temporaries,
    save_checkpoint,
)
from .data import ShardStream
from .metrics import METRICS_FILE, MetricsLog, ProgressBar, truncate_metrics
from .trainer import NonFiniteLoss, StepOutput, Trainer
from .visualize import reconstruction_grid


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


@dataclass
class Resumed:
    """Where a call starts: the counters, this rank's RNG states when the checkpoint is
    mid-epoch, and the checkpoint folder (None: a fresh run)."""

    state: RunState
    rng: dict[str, Tensor] | None = None
    checkpoint: Path | None = None


def resume(trainer: Trainer, out_dir: Path, console: Console) -> Resumed:
    """Continue from the newest checkpoint of ``out_dir``, or start afresh; either way clear
    what a killed run left after it: metric lines of later steps (they are run again) and
    half-written temporaries (rank 0).

    Raises:
        ValueError: the checkpoint was written with other parameters, or is corrupt.
    """
    ckpt = latest_checkpoint(out_dir / "checkpoints")
    start = Resumed(RunState()) if ckpt is None else _load(trainer, ckpt)
    if trainer.info.is_main:
        remove_temporaries(out_dir)
        truncate_metrics(out_dir / METRICS_FILE, start.state.step)
        if ckpt is not None:
            console.print(f"pretrain: resuming from {ckpt} (step {start.state.step})")
    return start


def _load(trainer: Trainer, ckpt: Path) -> Resumed:
    """Model, optimiser and schedule from ``ckpt`` into ``trainer``; its counters and RNG."""
    params, info = trainer.params, trainer.info
    check_resume_params(ckpt, params)
    saved = load_checkpoint(ckpt, trainer.model, map_location=info.device)
    trainer.opt.load_state_dict(saved["optimizer"])
    trainer.sched.load_state_dict(saved["scheduler"])
    state = RunState(**saved["run"])
    ranks = saved.get("rng", [])
    mid_epoch = state.step % params.ckpt_every and len(ranks) == info.world
    return Resumed(state, ranks[info.rank] if mid_epoch else None, ckpt)


class Loop:
    """Train from ``start`` until the schedule ends, the time budget is spent or
    ``stop_after`` steps of this call are done; log, draw and checkpoint on the way.

    Args:
        config: what checkpoints record besides the weights (model, params, world size).
    """

    def __init__(
        self,
        trainer: Trainer,
        start: Resumed,
        stream: ShardStream,
        loader: DataLoader,
        out_dir: Path,
        seed: int,
        config: dict[str, Any],
        stop_after: int | None = None,
    ) -> None:
        self.trainer, self.params, self.info = trainer, trainer.params, trainer.info
        self.state, self.mid_epoch_rng = start.state, start.rng
        self.stream, self.loader = stream, loader
        self.out_dir, self.seed, self.config = out_dir, seed, config
        self.stop_after, self.steps_this_call = stop_after, 0
        self.done = self.state.step >= self.params.steps or self.state.stopped_by == "time_budget"
        self.last: StepOutput | None = None
        self.t_start, self.elapsed0 = time.perf_counter(), self.state.elapsed_s

    @property
    def paused(self) -> bool:
        """``stop_after`` steps of this call are done (the run is not complete)."""
        return self.stop_after is not None and self.steps_this_call >= self.stop_after

    def run(self, console: Console, progress: bool) -> None:
        log = MetricsLog(self.out_dir, self.info.is_main)
        try:
            lr0 = self.trainer.sched.get_last_lr()[0]
            enabled = progress and self.info.is_main
            with ProgressBar(console, enabled, self.params.steps, self.state.step, lr0) as bar:
                while not self.done and not self.paused:
                    self._epoch(log, bar)
        finally:
            log.close()

    def _epoch(self, log: MetricsLog, bar: ProgressBar) -> None:
        """The rest of the current data epoch (all of it unless resuming mid-epoch)."""
        accum = self.params.accum_steps
        epoch, offset = divmod(self.state.step, self.params.ckpt_every)
        self.stream.set_epoch(epoch)
        if self.mid_epoch_rng is not None:
            self.trainer.set_rng_state(self.mid_epoch_rng)
            self.mid_epoch_rng = None
        else:
            self.trainer.reseed(self.seed, epoch)
        it = iter(self.loader)
        for _ in range(offset * accum):  # resume mid-epoch: skip the batches already seen
            next(it)
        for _ in range(offset, self.params.ckpt_every):
            if self._step([next(it) for _ in range(accum)], epoch, log, bar):
                break
        del it

    def _step(
        self, micro: list[dict[str, Any]], epoch: int, log: MetricsLog, bar: ProgressBar
    ) -> bool:
        """One optimiser step and its bookkeeping; True when this call stops after it."""
        state, params = self.state, self.params
        for b in micro:
            for k, v in b["skipped"].items():
                state.skipped[k] = state.skipped.get(k, 0) + v
            state.resampled += b["resampled"]
        lr = self.trainer.sched.get_last_lr()[0]  # the lr this step uses
        try:
            self.last = self.trainer.step(micro)
        except NonFiniteLoss as e:
            path = self.checkpoint()
            raise ValueError(
                f"pretrain: non-finite loss ({e}) at step {state.step + 1}; "
                f"checkpoint of step {state.step} saved in "
                f"{path or self.out_dir / 'checkpoints'}; lower blr or set clip_grad"
            ) from None
        self._count(self.last, log)
        self._report(lr, epoch, log, bar)
        over_budget = params.time_budget_s is not None and D.any_true(
            state.elapsed_s >= params.time_budget_s, self.info
        )
        if state.step >= params.steps or over_budget:
            state.stopped_by = "steps" if state.step >= params.steps else "time_budget"
            self.done = True
        stop_now = self.done or self.paused
        if state.step % params.ckpt_every == 0 or stop_now:
            self.checkpoint()
        return stop_now

    def _count(self, out: StepOutput, log: MetricsLog) -> None:
        state = self.state
        state.step += 1
        self.steps_this_call += 1
        state.images_seen += out.images * self.info.world
        log.count(out.images * self.info.world)
        state.elapsed_s = self.elapsed0 + time.perf_counter() - self.t_start
        state.first_loss = state.first_loss if state.first_loss else out.loss
        state.last_loss = out.loss

    def _report(self, lr: float, epoch: int, log: MetricsLog, bar: ProgressBar) -> None:
        """A metrics line and a picture at their cadences (and at the last step)."""
        step, params, last = self.state.step, self.params, self.last
        if step % params.log_every == 0 or step == params.steps:
            loss = D.all_mean(last.loss, self.info)
            ips = log.images_per_s()
            log.log(
                dict(step=step, loss=loss, lr=lr, img_per_s=ips, epoch=epoch)
                | dict(elapsed_s=round(self.state.elapsed_s, 2))
            )
            bar.update(loss=loss, ips=ips)
        bar.update(completed=step, lr=lr)
        if self.info.is_main and (step % params.image_every == 0 or step == params.steps):
            self.save_images()

    def save_images(self) -> None:
        """Reconstructions of the last step's batch: ``images/step-XXXXXXXX.png``."""
        out, p = self.last, self.params
        target = out.clean if p.target == "clean" else out.degraded
        path = self.out_dir / "images" / f"step-{self.state.step:08d}.png"
        patch = self.trainer.model.encoder.patch_size
        reconstruction_grid(
            out.clean, out.degraded, target, out.pred, out.mask, patch, p.norm_pix_loss, path,
            target_norm=getattr(self.trainer.model, "target_norm", None),
        )  # fmt: skip

    def checkpoint(self) -> Path | None:
        """Save model, optimiser, schedule, counters and every rank's RNG (rank 0 writes)."""
        trainer = self.trainer
        rng = D.gather(trainer.rng_state(), self.info)
        path = None
        if self.info.is_main:
            extra = {"optimizer": trainer.opt.state_dict(), "scheduler": trainer.sched.state_dict()}
            extra.update(run=self.state.as_dict(), rng=rng)
            path = save_checkpoint(
                self.out_dir / "checkpoints",
                self.state.step,
                trainer.model,
                extra,
                self.config,
                self.params.keep_ckpts,
            )
        D.barrier(self.info)
        return path
