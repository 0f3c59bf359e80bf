"""ImageNet-C weather-like corruptions made procedurally: fog, snow, frost-like, spatter.

ImageNet-C draws fog from a plasma fractal and frost from photographs of frost; here both
come from seeded fractal (multi-octave) noise so no image files are needed. Severity tables
follow ImageNet-C's where the parameters map (fog density, frost mix), otherwise they are
chosen so damage grows with the level.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from torch import Tensor

from degrade import _cv
from degrade._checks import to_like
from degrade._random import bcast, generators
from degrade.kernels import motion_kernel, odd
from degrade.ops.blur import blur_sigma
from degrade.ops.kernel_blur import filter_per_sample, fit_kernels
from degrade.registry import Param, module_form, register, seed_param, uint8_form

__all__ = ["fog", "snow", "frost", "spatter", "fractal_noise", "Fog", "Snow", "Frost", "Spatter"]

IN_C = ("imagenet-c",)


def fractal_noise(
    h: int, w: int, seeds: Tensor, like: Tensor, decay: float, octaves: int = 6
) -> Tensor:
    """(B, 1, H, W) multi-octave value noise in [0, 1]: octave o is a (2^(o+2))^2 normal grid
    upsampled bicubically, weighted ``decay ** o`` (small decay: smooth; near 1: fine grain).

    Drawn on the host whatever ``like``'s device; the upsampling is OpenCV's bicubic resize
    where installed (``F.interpolate``'s kernel and half-pixel grid, to 6e-5 of it; ~3x
    faster on a 224 px image), else ``F.interpolate``.
    """
    cv2 = _cv.cv2_module()
    out = []
    for g in generators(seeds, "cpu"):
        acc = torch.zeros(1, 1, h, w, dtype=torch.float32)
        for o in range(octaves):
            n = 2 ** (o + 2)
            grid = torch.randn(1, 1, n, n, generator=g, dtype=torch.float32)
            if cv2 is not None:
                up = cv2.resize(grid[0, 0].numpy(), (w, h), interpolation=cv2.INTER_CUBIC)
                acc[0, 0] += torch.from_numpy(up).mul_(decay**o)
            else:
                acc += decay**o * F.interpolate(grid, (h, w), mode="bicubic", align_corners=False)
        acc -= acc.amin()
        out.append(acc / acc.amax().clamp_min(1e-8))
    return torch.cat(out).to(like)


def _host_draws(draw: Callable[..., Tensor], shape: tuple[int, ...], seeds: Tensor) -> Tensor:
    """(B, *shape) float32 draws on the host (``torch.rand`` or ``torch.randn``), sample i's
    from ``seeds[i]``: float32 whatever torch's default dtype, so the same values anywhere."""
    gens = generators(seeds, "cpu")
    return torch.stack([draw(*shape, generator=g, dtype=torch.float32) for g in gens])


def _gray(x: Tensor) -> Tensor:
    return rgb_to_grayscale(x) if x.shape[1] == 3 else x


@register(
    "fog",
    [Param("density", (1.0, 1.5, 2.0, 2.5, 3.0), 0.5, 3.0), seed_param()],
    family="weather",
    tags=IN_C,
)
def fog(x: Tensor, density: Tensor, seed: Tensor | None = None) -> Tensor:
    """Fog: add a smooth fractal haze of ``density``, renormalised as ImageNet-C does
    (``(x + d * fog) * max(x) / (max(x) + d)``).

    Shape: x (B, C, H, W); density (B,); seed (B,).
    """
    h, w = x.shape[-2:]
    haze = fractal_noise(h, w, seed, x, decay=0.55)
    d = to_like(bcast(density), x)
    mx = x.amax((1, 2, 3), keepdim=True)
    scale = mx / (mx + d)
    # x scale + haze d scale: one pass over the batch (the haze is one channel)
    return torch.addcmul(haze.mul_(d * scale), x, scale)


@register(
    "frost",
    [
        Param("image", (1.0, 0.8, 0.7, 0.65, 0.6), 0.6, 1.0),
        Param("frost", (0.4, 0.6, 0.7, 0.7, 0.75), 0.3, 0.8),
        seed_param(),
    ],
    family="weather",
    tags=IN_C,
)
def frost(x: Tensor, image: Tensor, frost: Tensor, seed: Tensor | None = None) -> Tensor:
    """Frost-like: ``image * x + frost * texture`` (ImageNet-C's mix weights), the texture a
    fine-grained, contrast-stretched fractal tinted ice-blue instead of a frost photograph.

    Shape: x (B, C, H, W); image, frost (B,); seed (B,).
    """
    h, w = x.shape[-2:]
    tex = (fractal_noise(h, w, seed, x, decay=0.85) - 0.35).clamp_min(0) / 0.65
    tint = torch.tensor([0.85, 0.92, 1.0], device=x.device, dtype=x.dtype)
    tex = tex * (tint.view(1, 3, 1, 1) if x.shape[1] == 3 else 0.92)
    return bcast(image) * x + bcast(frost) * tex


@register(
    "snow",
    [
        Param("amount", (0.15, 0.3, 0.45, 0.6, 0.8), 0.05, 0.8),
        Param("angle", (), -135.0, -45.0),
        seed_param(),
    ],
    family="weather",
    tags=IN_C,
)
def snow(x: Tensor, amount: Tensor, angle: Tensor, seed: Tensor | None = None) -> Tensor:
    """Snow: the image whitened like ImageNet-C (towards ``max(x, 1.5 grey + 0.5)``), then
    falling flakes: sparse seeded dots, motion-blurred along ``angle`` degrees.

    Shape: x (B, C, H, W); amount (B,) in [0, 1]; angle (B,); seed (B,).
    """
    kernels = _flake_kernels(amount, angle, x.dtype, *x.shape[-2:])
    if _cv.usable(x) and x.shape[1] == 3:
        return _snow_images(x, amount, kernels, seed)
    h, w = x.shape[-2:]
    a = bcast(amount)
    white = torch.maximum(x, _gray(x) * 1.5 + 0.5)
    x = (1 - 0.6 * a) * x + 0.6 * a * white
    u = _host_draws(torch.rand, (1, h, w), seed).to(x)
    flakes = (u < 0.004 + 0.03 * a).to(x.dtype)
    return x + filter_per_sample(flakes, kernels) * 3.0


def _flake_kernels(amount: Tensor, angle: Tensor, dtype: torch.dtype, h: int, w: int) -> Tensor:
    """(B, k, k) motion kernels of the flakes, ``4 + 12 amount`` px along ``angle``, as an
    H x W image takes them (:func:`fit_kernels`: cut on the smallest images)."""
    dtype = dtype if dtype.is_floating_point else torch.float32
    k = odd(6 + 14 * float(amount.max()))
    return fit_kernels(motion_kernel(k, (4 + 12 * amount).to(dtype), angle.to(dtype)), h, w)


def _snow_images(x: Tensor, amount: Tensor, kernels: Tensor, seed: Tensor) -> Tensor:
    """:func:`snow` image by image while it is in cache, on a CPU float32 or uint8 RGB batch
    (B, 3, H, W): the same draws, thresholds and kernels; OpenCV's passes
    (:func:`degrade._cv.whiten`). uint8 adds the flake layer in grey levels, rounded: within
    one grey level of the float form's result, rounded."""
    cv2 = _cv.cv2_module()
    u8 = x.dtype == torch.uint8
    x = x.contiguous()
    out = torch.empty_like(x)
    u = torch.empty(1, *x.shape[-2:], dtype=torch.float32)  # the batch form's draws
    streaks = np.empty(x.shape[-2:], np.float32)
    layer = np.empty(x.shape[-2:], np.uint8) if u8 else streaks  # uint8: rounded, saturated
    a = amount.to(torch.float32)
    # float32 thresholds as the batch form's; threshold's "u <= t" is "u < p" at t below p
    below = np.nextafter((0.004 + 0.03 * a).numpy(), np.float32(0)).tolist()
    for i, (g, mix) in enumerate(zip(generators(seed, "cpu"), (0.6 * a).tolist(), strict=True)):
        u.uniform_(generator=g)
        flakes = cv2.threshold(u.numpy()[0], below[i], 765.0 if u8 else 3.0, cv2.THRESH_BINARY_INV)
        k, anchor = _cv.support(kernels[i])
        cv2.filter2D(flakes[1], -1, k, dst=streaks, anchor=anchor, borderType=_cv.REFLECT)
        if u8:
            cv2.convertScaleAbs(streaks, dst=layer)
        _cv.whiten(x[i].numpy(), mix, layer, out[i].numpy())
    return out if u8 else _cv.mark_clamped(out)


@uint8_form("snow")
def _snow_u8(x: Tensor, amount: Tensor, angle: Tensor, seed: Tensor) -> Tensor | None:
    if x.shape[1] != 3:
        return None
    return _snow_images(x, amount, _flake_kernels(amount, angle, x.dtype, *x.shape[-2:]), seed)


@register(
    "spatter",
    [Param("coverage", (0.06, 0.12, 0.2, 0.3, 0.42), 0.02, 0.45), seed_param()],
    family="weather",
    tags=IN_C,
)
def spatter(x: Tensor, coverage: Tensor, seed: Tensor | None = None) -> Tensor:
    """Spatter: mud blobs covering a fraction ``coverage`` of the image (a blurred seeded
    normal field thresholded at its (1 - coverage) quantile), blended at 70 % opacity.

    Shape: x (B, C, H, W); coverage (B,) in (0, 1); seed (B,).
    """
    h, w = x.shape[-2:]
    field = _host_draws(torch.randn, (1, h, w), seed).to(x)
    field = blur_sigma(field, torch.full_like(coverage, max(1.0, min(h, w) / 40)).to(x))
    field = (field - field.mean((2, 3), keepdim=True)) / field.std((2, 3), keepdim=True).clamp_min(
        1e-8
    )
    thr = bcast(torch.special.ndtri(1 - coverage.to(torch.float64)).to(x))
    mask = ((field - thr) * 4).clamp(0, 1)
    mud = torch.tensor([0.27, 0.2, 0.12], device=x.device, dtype=x.dtype)
    mud = mud.view(1, 3, 1, 1) if x.shape[1] == 3 else mud.mean()
    alpha = 0.7 * mask
    return x * (1 - alpha) + alpha * mud


Fog = module_form("Fog", "fog")
Frost = module_form("Frost", "frost")
Snow = module_form("Snow", "snow")
Spatter = module_form("Spatter", "spatter")
