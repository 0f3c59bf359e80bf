"""Sharpening: unsharp mask (QPT V2 sharpen, KADID high sharpen)."""

from __future__ import annotations

from torch import Tensor

from degrade._random import bcast
from degrade.ops.blur import blur_sigma
from degrade.registry import Param, module_form, register

__all__ = ["sharpen", "Sharpen"]


@register(
    "sharpen",
    [Param("amount", (0.5, 1.0, 2.0, 3.5, 5.5), 0.0, 6.0), Param("sigma", (1.0,) * 5, 0.5, 2.0)],
    family="sharpen",
    tags=("kadid", "qpt-v2"),
)
def sharpen(x: Tensor, amount: Tensor, sigma: Tensor) -> Tensor:
    """Unsharp mask: ``x + amount * (x - gaussian_blur(x, sigma))`` (KADID "high sharpen").

    Shape: x (B, C, H, W); amount, sigma (B,).
    """
    return x + bcast(amount) * (x - blur_sigma(x, sigma))


Sharpen = module_form("Sharpen", "sharpen")
