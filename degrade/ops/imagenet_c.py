"""ImageNet-C's own operators where they differ from KADID's: brightness and motion blur.

KADID's ``brighten`` (a gamma curve) and ``motion_blur`` (a centred segment) are other
operators than ImageNet-C's ``brightness`` (the HSV value raised by a constant) and
``motion_blur`` (ImageMagick's one-sided, Gaussian-weighted trail). These are ImageNet-C's,
as the reference code (Hendrycks & Dietterich; the ``imagecorruptions`` package) computes
them, at its five severities.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from kornia.filters import filter2d
from torch import Tensor

from degrade import _cv
from degrade._checks import to_like
from degrade._random import bcast
from degrade.registry import Param, module_form, register

__all__ = ["brightness", "motion_trail", "trail_kernels", "Brightness", "MotionTrail"]


@register(
    "brightness",
    [Param("shift", (0.1, 0.2, 0.3, 0.4, 0.5), 0.0, 0.6)],
    family="tone",
    tags=("imagenet-c",),
)
def brightness(x: Tensor, shift: Tensor) -> Tensor:
    """ImageNet-C brightness: the HSV value ``V = max(R, G, B)`` raised by ``shift`` and
    clipped to 1, hue and saturation kept.

    With hue and saturation fixed, RGB is proportional to V, so each pixel is scaled by
    ``min(V + shift, 1) / V`` (a black pixel becomes grey ``shift``): the HSV round trip
    without its conversions. One channel: ``x + shift``, clipped.

    Shape: x (B, C, H, W); shift (B,).
    """
    s = to_like(bcast(shift), x)
    if x.shape[1] != 3:
        return (x + s).clamp_(0.0, 1.0)
    v = x.amax(1, keepdim=True)
    scale = (v + s).clamp_(max=1.0).div_(v)
    return torch.where(v > 0, x * scale, s.expand_as(v))


Brightness = module_form("Brightness", "brightness")


def trail_kernels(
    radius: list[int], sigma: list[float], angle: list[float], size: tuple[int, int]
) -> Tensor:
    """ImageNet-C's motion kernels, one per sample, as (B, k, k) correlation kernels.

    Tap i of ``2 radius + 1`` weighs ``exp(-i^2 / 2 sigma^2)`` (normalised over all taps) and
    reads the pixel ``i`` steps further along ``angle`` (degrees), rounded to the grid as
    the reference rounds it (NumPy's sines, ``d = -ceil(i (cos a, sin a) - 0.5)``): the
    output at p is the sum of ``w_i x(p - d_i)``, so a bright point leaves its trail behind
    it. Like the reference, the trail stops at the first step that reaches as far as the
    image ``size`` (H, W) (only images under ``2 radius + 1`` px). The trail reaches
    ``2 radius`` px from the pixel, so ``k = 4 max(radius) + 1``.
    """
    r = 2 * max(radius)
    out = np.zeros((len(radius), 2 * r + 1, 2 * r + 1))  # NumPy: no torch op per tap
    for b, (rad, sig, ang) in enumerate(zip(radius, sigma, angle, strict=True)):
        width = 2 * rad + 1
        w = np.exp(-(np.arange(width) ** 2) / (2 * sig**2))
        w /= w.sum()
        point = (width * np.sin(np.deg2rad(ang)), width * np.cos(np.deg2rad(ang)))
        hypot = math.hypot(*point)
        for i in range(width):
            dy = -math.ceil(i * point[0] / hypot - 0.5)
            dx = -math.ceil(i * point[1] / hypot - 0.5)
            if abs(dy) >= size[0] or abs(dx) >= size[1]:
                break
            out[b, r - dy, r - dx] += w[i]
    return torch.from_numpy(out)


@register(
    "motion_trail",
    [
        Param("radius", (10, 15, 15, 15, 20), 5, 20, kind="int"),
        Param("sigma", (3.0, 5.0, 8.0, 12.0, 15.0), 1.0, 15.0),
        Param("angle", (), -45.0, 45.0),
    ],
    family="blur",
    tags=("imagenet-c",),
    host=True,
)
def motion_trail(x: Tensor, radius: Tensor, sigma: Tensor, angle: Tensor) -> Tensor:
    """ImageNet-C motion blur: a one-sided trail of ``2 radius + 1`` taps, Gaussian-weighted
    by ``sigma`` from the pixel itself backwards along ``angle`` degrees, replicated
    borders (:func:`trail_kernels`). The reference draws the angle from [-45, 45].

    Shape: x (B, C, H, W); radius, sigma, angle (B,), on the host.
    """
    size = (x.shape[-2], x.shape[-1])
    kernels = trail_kernels(radius.tolist(), sigma.tolist(), angle.tolist(), size)
    if _cv.usable(x):
        return _cv.filter2d(x, list(kernels.float()), clamp=True, border=_cv.REPLICATE)
    # kernels built on the host are copied pinned (to_like), not by kornia's .to()
    return filter2d(x, to_like(kernels.to(x.dtype), x), border_type="replicate")


MotionTrail = module_form("MotionTrail", "motion_trail")
