"""Size of a registered model: parameters and multiply-accumulates of one forward pass.

MACs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions,
attention products; norms, softmax and activations are not counted) on the meta device, so
no memory is allocated and no weights are initialised. Papers (HiViT, Swin, fvcore) report
these multiply-accumulates as "FLOPs"; ``FlopCounterMode`` counts 2 per multiply-add, halved
here to match.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from .registry import create_model


@dataclass(frozen=True)
class ModelStats:
    """Parameters (all trainable tensors) and multiply-accumulates of one forward pass."""

    name: str
    img_size: int
    params: int
    macs: int


@contextlib.contextmanager
def _unfused_attention(model: nn.Module):
    """Explicit q @ k and attn @ v, which the counter sees on every device."""
    fused = [m for m in model.modules() if getattr(m, "fused_attn", False)]
    for m in fused:
        m.fused_attn = False
    try:
        yield
    finally:
        for m in fused:
            m.fused_attn = True


def model_stats(name: str, img_size: int = 224, **kwargs) -> ModelStats:
    """Parameters and MACs of ``create_model(name, img_size=img_size, **kwargs)``.

    An encoder is measured on ``forward_features`` of one image; a ``mae_*`` model on one
    pretraining forward (encoder on the visible 25 %, decoder on all units, loss).
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model = create_model(name, img_size=img_size, **kwargs).eval()
        x = torch.empty(1, 3, img_size, img_size)
    params = sum(p.numel() for p in model.parameters())
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), _unfused_attention(model), counter:
        if name.startswith("mae_"):
            model(x)
        else:
            model.forward_features(x)
    return ModelStats(name, img_size, params, counter.get_total_flops() // 2)
