"""One rank's model, optimiser, schedule, degradation and RNG; one optimiser step.

* gradient accumulation (DDP ``no_sync`` on the inner micro-steps), clipping, bf16 autocast
  on CUDA, optional ``torch.compile`` and channels-last;
* degradation on whole batches on the training device: on CUDA here, before the step; on
  CPU (``degrade_on="auto"``) inside the loader workers, so it overlaps the step.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import distributed as D
from .config import PretrainParams
from .init import init_from
from .models import create_model
from .optim import make_optimizer, make_scheduler, peak_lr


def build_model(params: PretrainParams, device: torch.device, seed: int = 0) -> nn.Module:
    """The MAE model of ``params`` on ``device``, initialised from ``seed`` (so identical on
    every rank)."""
    torch.manual_seed(seed)
    model = create_model(params.model, **params.model_kwargs())
    if params.init:
        init_from(model, params.init)
    model = model.to(device)
    if params.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass
class StepOutput:
    """What one optimiser step returns; tensors are those of its last micro-batch.

    Attributes:
        loss: mean loss over the micro-batches.
        images: images of this rank in the step.
        clean, degraded: (B, 3, H, W) in [0, 1].
        pred: (B, N, p*p*3) predictions; mask: (B, N), 1 = masked.
    """

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
        seed: model init seed (identical on every rank); unused when ``model`` is given.
        model: a model built by :func:`build_model` (default: build one here).
    """

    def __init__(
        self,
        params: PretrainParams,
        info: D.DistInfo,
        seed: int = 0,
        model: nn.Module | None = None,
    ) -> None:
        self.params, self.info, self.device = params, info, info.device
        self.model = model if model is not None else build_model(params, self.device, seed)
        self.module: nn.Module = self.model
        if info.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.module = DDP(self.model, device_ids=ids)
        self.forward = torch.compile(self.module) if params.compile else self.module
        self.effective_batch = params.batch_size * params.accum_steps * info.world
        self.lr = peak_lr(params.blr, self.effective_batch)
        self.opt = make_optimizer(
            self.model, self.lr, params.weight_decay, params.betas, self.device.type
        )
        self.sched = make_scheduler(
            self.opt, params.steps, params.warmup_steps, self.lr, params.min_lr
        )
        self.generator = torch.Generator(device=self.device)
        self.degrade_in_loader = params.degrade is not None and (
            params.degrade_on == "loader"
            or (params.degrade_on == "auto" and self.device.type == "cpu")
        )
        self.degrader = None
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

    def _layout(self, x: Tensor) -> Tensor:
        if self.params.channels_last:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def prepare(self, batch: Tensor | dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """A loader batch (or bare uint8 images (B, 3, H, W)) -> (clean, degraded) float
        (B, 3, H, W) in [0, 1] on the device; a batch the loader already degraded keeps its
        ``"degraded"`` images."""
        images = batch["images"] if isinstance(batch, dict) else batch
        x = self._layout(images.to(self.device, non_blocking=True).float().div_(255))
        if isinstance(batch, dict) and "degraded" in batch:
            return x, self._layout(batch["degraded"].to(self.device, non_blocking=True))
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
