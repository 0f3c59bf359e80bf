"""Spatial ops: pixel jitter, non-eccentricity patches, colour blocks (KADID), elastic (IN-C)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from kornia.filters import get_gaussian_kernel1d
from kornia.geometry.transform import elastic_transform2d
from torch import Tensor

from degrade import _cv
from degrade._checks import to_like
from degrade._random import generators, seeded_normal
from degrade.kernels import odd
from degrade.ops.blur import _jitter_pixels
from degrade.registry import Param, module_form, register, seed_param, uint8_form

__all__ = [
    "jitter",
    "non_eccentricity_patch",
    "color_block",
    "elastic",
    "Jitter",
    "NonEccentricityPatch",
    "ColorBlock",
    "Elastic",
]


@register(
    "jitter",
    [Param("amount", (0.6, 1.0, 1.6, 2.4, 3.5), 0.3, 4.0), seed_param()],
    family="spatial",
    tags=("kadid",),
)
def jitter(x: Tensor, amount: Tensor, seed: Tensor | None = None) -> Tensor:
    """Pixel jitter: every pixel taken from a random neighbour up to ``amount`` px away.

    Shape: x (B, C, H, W); amount (B,) pixels; seed (B,).
    """
    return _jitter_pixels(x, amount, seed)


uint8_form("jitter")(_jitter_pixels)  # moves pixels: uint8 in, the same bytes out


def _boxes(g: torch.Generator, n: int, size: int, h: int, w: int, extra: int) -> tuple[Tensor, ...]:
    """n random top-left corners (y, x) of size x size boxes inside (h, w), plus ``extra``
    uniform values per box. Drawn row by row, so the first k boxes do not depend on n (more
    boxes at a higher level add to the same ones: severities stay monotone)."""
    u = torch.rand(n, 2 + extra, generator=g, dtype=torch.float32)
    ys = (u[:, 0] * max(1, h - size + 1)).long()
    xs = (u[:, 1] * max(1, w - size + 1)).long()
    return ys, xs, u[:, 2:]


def _patch_size(h: int, w: int) -> int:
    return max(2, min(h, w) // 10)


@register(
    "non_eccentricity_patch",
    [Param("patches", (4, 8, 14, 22, 32), 1, 40, kind="int"), seed_param()],
    family="spatial",
    tags=("kadid",),
    host=True,
)
def non_eccentricity_patch(x: Tensor, patches: Tensor, seed: Tensor | None = None) -> Tensor:
    """Non-eccentricity patches: ``patches`` squares (side min(H, W) / 10) of the clean image,
    taken one patch-width away in a random direction (clamped inside), pasted in turn.

    Shape: x (B, C, H, W); patches (B,) int; seed (B,).
    """
    b, c, h, w = x.shape
    s = _patch_size(h, w)
    out = x.clone()
    for i, (n, g) in enumerate(zip(patches.tolist(), generators(seed, "cpu"), strict=True)):
        ys, xs, u = _boxes(g, max(0, n), s, h, w, 1)
        ang = u[:, 0] * 2 * torch.pi
        sy = (ys + (torch.sin(ang) * s).round().long()).clamp(0, h - s).tolist()
        sx = (xs + (torch.cos(ang) * s).round().long()).clamp(0, w - s).tolist()
        for y0, x0, y1, x1 in zip(ys.tolist(), xs.tolist(), sy, sx, strict=True):
            out[i, :, y0 : y0 + s, x0 : x0 + s] = x[i, :, y1 : y1 + s, x1 : x1 + s]
    return out


@register(
    "color_block",
    [Param("blocks", (2, 4, 7, 11, 16), 1, 20, kind="int"), seed_param()],
    family="spatial",
    tags=("kadid",),
    host=True,
)
def color_block(x: Tensor, blocks: Tensor, seed: Tensor | None = None) -> Tensor:
    """Colour blocks: ``blocks`` uniformly coloured squares (side min(H, W) / 10) at random
    places, painted in turn.

    Shape: x (B, C, H, W); blocks (B,) int; seed (B,).
    """
    b, c, h, w = x.shape
    s = _patch_size(h, w)
    boxes = [
        _boxes(g, max(0, n), s, h, w, c)
        for n, g in zip(blocks.tolist(), generators(seed, "cpu"), strict=True)
    ]
    # every sample's colours go to the device in one copy
    colours = to_like(torch.cat([torch.zeros(0, c), *(bx[2] for bx in boxes)]), x)
    out, k = x.clone(), 0
    for i, (ys, xs, _) in enumerate(boxes):
        for y0, x0 in zip(ys.tolist(), xs.tolist(), strict=True):
            out[i, :, y0 : y0 + s, x0 : x0 + s] = colours[k].view(c, 1, 1)
            k += 1
    return out


@register(
    "elastic",
    [Param("alpha", (0.02, 0.035, 0.05, 0.07, 0.09), 0.0, 0.1), seed_param()],
    family="spatial",
    tags=("imagenet-c",),
)
def elastic(x: Tensor, alpha: Tensor, seed: Tensor | None = None) -> Tensor:
    """Elastic deformation (kornia ``elastic_transform2d``): smooth random displacement field
    (Gaussian-filtered noise, sigma = min(H, W) / 20) scaled by ``alpha`` (fraction of the
    half-size).

    Shape: x (B, C, H, W); alpha (B,); seed (B,).
    """
    h, w = x.shape[-2:]
    sigma = max(1.0, min(h, w) / 20)
    k = min(odd(4 * sigma), odd(min(h, w)) - 2)
    if _cv.usable(x):
        return _elastic_images(x, alpha * sigma * 2, seed, k, sigma)
    noise = seeded_normal((2, h, w), seed, x) * alpha.view(-1, 1, 1, 1) * sigma * 2
    return elastic_transform2d(
        x,
        noise,
        kernel_size=(k, k),
        sigma=(sigma, sigma),
        alpha=(1.0, 1.0),
        padding_mode="reflection",
    )


Jitter = module_form("Jitter", "jitter")
NonEccentricityPatch = module_form("NonEccentricityPatch", "non_eccentricity_patch")
ColorBlock = module_form("ColorBlock", "color_block")
Elastic = module_form("Elastic", "elastic")


def _elastic_images(x: Tensor, scale: Tensor, seed: Tensor, k: int, sigma: float) -> Tensor:
    """:func:`elastic` on a CPU float32 batch: each sample's displacement field (the same
    draws, times ``scale`` (B,)) smoothed by OpenCV's separable filter with kornia's
    Gaussian taps and zero borders (``elastic_transform2d`` runs them as torch convolutions,
    slow on CPU for one channel and k taps), then one ``grid_sample`` as kornia's."""
    cv2 = _cv.cv2_module()
    b, _, h, w = x.shape
    taps = get_gaussian_kernel1d(k, sigma, dtype=torch.float32)[0].numpy()
    f32 = torch.float32  # whatever torch's default dtype: the batch form's draws, OpenCV's type
    identity = F.affine_grid(torch.eye(2, 3, dtype=f32)[None], [1, 1, h, w], align_corners=False)
    base = [np.ascontiguousarray(identity[0, ..., c].numpy()) for c in range(2)]
    grid = torch.empty(b, h, w, 2, dtype=f32)
    noise = torch.empty(2, h, w, dtype=f32)
    planes = [np.empty((h, w), np.float32) for _ in range(2)]
    for i, (g, s) in enumerate(zip(generators(seed, "cpu"), scale.tolist(), strict=True)):
        noise.normal_(generator=g)
        for c in range(2):
            cv2.sepFilter2D(
                noise[c].numpy(), -1, taps * s, taps, dst=planes[c], borderType=cv2.BORDER_CONSTANT
            )
            cv2.add(planes[c], base[c], dst=planes[c])
        cv2.merge(planes, dst=grid[i].numpy())
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
