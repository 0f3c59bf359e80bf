"""Sharpening: unsharp mask (QPT V2 sharpen, KADID high sharpen)."""

from __future__ import annotations

from torch import Tensor

from degrade import _cv
from degrade.ops.blur import UNSHARP, unsharp
from degrade.registry import Param, module_form, register, uint8_form

__all__ = ["sharpen", "Sharpen"]


def _sharpen_coeffs(amount: Tensor, sigma: Tensor) -> dict[str, Tensor]:
    return {"sigma": sigma, "weight": 1 + amount}


@register(
    "sharpen",
    [Param("amount", (0.5, 1.0, 2.0, 3.5, 5.5), 0.0, 6.0), Param("sigma", (1.0,) * 5, 0.5, 2.0)],
    family="sharpen",
    tags=("kadid", "qpt-v2"),
    host=True,
    joint=(UNSHARP, _sharpen_coeffs),
)
def sharpen(x: Tensor, amount: Tensor, sigma: Tensor) -> Tensor:
    """Unsharp mask: ``x + amount * (x - gaussian_blur(x, sigma))`` (KADID "high sharpen").

    Shape: x (B, C, H, W); amount, sigma (B,).
    """
    # x + a (x - b) == lerp(b, x, 1 + a): one pass instead of three
    return unsharp(x, **_sharpen_coeffs(amount, sigma))


@uint8_form("sharpen")
def _sharpen_cpu(x: Tensor, amount: Tensor, sigma: Tensor) -> Tensor | None:
    sigma = sigma.clamp_min(0.05)
    radius = _cv.blur_radius(sigma)
    if max(radius) >= min(x.shape[-2:]):
        return None
    return _cv.unsharp(x, sigma.tolist(), radius, amount.tolist())


Sharpen = module_form("Sharpen", "sharpen")
