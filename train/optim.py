"""The optimiser and the learning-rate schedule (MAE's recipe).

* lr = blr x effective batch / 256 (the linear scaling rule);
* AdamW, weight decay on weight matrices only (not norms, biases, the mask token or the
  relative position tables);
* linear warm-up over ``warmup`` steps, then a half-cycle cosine down to ``min_lr``: the
  values of timm's ``CosineLRScheduler(warmup_prefix=True, warmup_lr_init=lr / (warmup +
  1))``. MAE's ramp starts at 0; this one at ``lr / (warmup + 1)``, so no step runs at 0.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

NO_DECAY = ("mask_token", "relative_position_bias_table")


def peak_lr(blr: float, effective_batch: int) -> float:
    """The linear scaling rule: ``blr x effective_batch / 256``."""
    return blr * effective_batch / 256


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two AdamW groups: decayed matrices, and undecayed norms / biases / tokens / tables."""
    from timm.optim import param_groups_weight_decay

    names = [n for n, _ in model.named_parameters() if n.split(".")[-1] in NO_DECAY]
    return param_groups_weight_decay(model, weight_decay, no_weight_decay_list=names)


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float], device: str
) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups` (fused kernels on CPU and CUDA)."""
    return torch.optim.AdamW(
        param_groups(model, weight_decay),
        lr=lr,
        betas=betas,
        fused=device in ("cpu", "cuda"),
    )


def make_scheduler(
    opt: torch.optim.Optimizer, steps: int, warmup: int, lr: float, min_lr: float
) -> torch.optim.lr_scheduler.LRScheduler:
    """The lr of optimiser step ``k`` (0-based; ``get_last_lr()`` before the step):

    * ``k < warmup``: ``lr x (k + 1) / (warmup + 1)`` (a linear ramp from ~0);
    * ``k >= warmup``: ``min_lr + (lr - min_lr) x (1 + cos(pi x (k - warmup) / (steps -
      warmup))) / 2``, so step ``warmup`` runs at the peak ``lr``.
    """
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    cosine = CosineAnnealingLR(opt, T_max=max(1, steps - warmup), eta_min=min(min_lr, lr))
    if warmup == 0:
        return cosine
    ramp = LinearLR(opt, start_factor=1.0 / (warmup + 1), end_factor=1.0, total_iters=warmup)
    return SequentialLR(opt, [ramp, cosine], milestones=[warmup])
