"""Colour and tone ops (kornia.enhance / kornia.color, per-sample factors).

QPT V2 colour jitter and colour-space transform; KADID brighten, darken, mean shift,
contrast change, saturation 1 and 2, colour diffusion, colour shift, quantisation;
ImageNet-C saturate.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
from kornia.enhance import adjust_contrast_with_mean_subtraction
from kornia.geometry.transform import translate
from torch import Tensor

from degrade import _cv
from degrade._checks import gpu_path, to_like
from degrade._cpu_filters import per_image, reflect_pad
from degrade._lab import ab_images, color_matrix, lab_to_rgb, rgb_to_lab
from degrade._random import bcast, generators
from degrade.ops.blur import blur_sigma
from degrade.registry import Joint, Param, module_form, register, seed_param, uint8_form

__all__ = [
    "color_jitter",
    "color_space_transform",
    "color_affine",
    "brighten",
    "darken",
    "mean_shift",
    "contrast_change",
    "color_saturation_1",
    "color_saturation_2",
    "saturate",
    "color_diffusion",
    "color_shift",
    "color_quantization",
    "quantization",
    "ColorJitter",
    "ColorSpaceTransform",
    "Brighten",
    "Darken",
    "MeanShift",
    "ContrastChange",
    "ColorSaturation1",
    "ColorSaturation2",
    "Saturate",
    "ColorDiffusion",
    "ColorShift",
    "ColorQuantization",
    "Quantization",
]


def color_affine(x: Tensor, matrix: Tensor, luma_weight: Tensor, bias: Tensor) -> Tensor:
    """Per-sample affine colour map ``y = M x + bias + <mean(x), luma_weight>`` per pixel.

    The joint form of colour jitter (the offset follows the image's mean colour) and the
    colour-space transform (no offset). Shape: x (B, 3, H, W); matrix (B, 3, 3),
    luma_weight (B, 3), bias (B,), all on the host: copied to ``x``'s device in one piece.
    """
    b = x.shape[0]
    v = to_like(torch.cat([matrix.reshape(b, 9), luma_weight, bias[:, None]], 1), x)
    off = (x.mean((2, 3)) * v[:, 9:12]).sum(1) + v[:, 12]  # channel means first: one pass
    return color_matrix(x, v[:, :9].view(b, 3, 3)).add_(bcast(off))


#: colour jitter and colour-space transform samples run in one call
COLOR_AFFINE = Joint("color_affine", color_affine)


def _jitter_coeffs(
    brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> dict[str, Tensor]:
    """The matrix and offset of :func:`color_jitter`, on the host.

    The matrix ``c * YIQ^-1 R(hue) YIQ S(s)`` is linear in six products of the parameters
    (:data:`_JITTER_BASIS`), so a batch's matrices are one small product, not a dozen tiny
    tensor ops per call.
    """
    dt = brightness.dtype
    a = hue.double() * 2 * torch.pi
    cos, sin, s = torch.cos(a), torch.sin(a), saturation.double()
    weights = torch.stack([s, s * cos, s * sin, 1 - s, (1 - s) * cos, (1 - s) * sin], 1)
    matrix = (weights @ _JITTER_BASIS).view(-1, 3, 3) * contrast.double()[:, None, None]
    # contrast c around the mean luma m of the brightened image (m = <mean, luma> + b):
    # c (x + b) + (1 - c) m - c x = b + (1 - c) <mean, luma>
    luma_weight = (1 - contrast)[:, None] * _LUMA.to(dt)
    return {"matrix": matrix.to(dt), "luma_weight": luma_weight, "bias": brightness}


@register(
    "color_jitter",
    [
        Param("brightness", (0.03, 0.06, 0.1, 0.15, 0.2), -0.2, 0.2),
        Param("contrast", (0.9, 0.8, 0.7, 0.6, 0.5), 0.5, 1.5),
        Param("saturation", (0.9, 0.75, 0.6, 0.45, 0.3), 0.3, 1.7),
        Param("hue", (0.02, 0.05, 0.08, 0.12, 0.16), -0.16, 0.16),
    ],
    family="color",
    tags=("qpt-v2",),
    color=True,
    host=True,
    joint=(COLOR_AFFINE, _jitter_coeffs),
)
def color_jitter(
    x: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> Tensor:
    """Colour jitter as one per-sample affine colour transform (fast, batched).

    In order: brightness (additive offset), contrast (factor around the mean luma),
    saturation (blend towards luma, as torchvision), hue (rotation by ``hue`` turns of the
    chroma plane in YIQ, the classic linear hue shift). The steps are linear, so they are
    folded into ``y = contrast * (H S) x + offset`` and applied as one matrix product; unlike
    torchvision there is no clipping between steps (only at the end), and hue is the YIQ
    rotation rather than an HSV shift.

    Shape: x (B, 3, H, W); each parameter (B,).
    """
    # the matrices are built on the host (host=True) and copied once
    return color_affine(x, **_jitter_coeffs(brightness, contrast, saturation, hue))


_LUMA = torch.tensor([0.299, 0.587, 0.114])


def _jitter_basis() -> Tensor:
    """(6, 9): colour jitter's matrix / contrast = weights (s, s cos h, s sin h, 1 - s,
    (1 - s) cos h, (1 - s) sin h) times these flattened 3 x 3 matrices.

    The hue rotation in YIQ is ``P0 + cos h P1 + sin h P2``, so ``YIQ^-1 R YIQ`` is
    ``A0 + cos h A1 + sin h A2`` with ``Ak = YIQ^-1 Pk YIQ``; the saturation blend is
    ``s I + (1 - s) L`` with ``L = 1 luma^T``. Their product expands into the six terms.
    """
    yiq = torch.tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
        dtype=torch.float64,
    )
    p0 = torch.diag(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    p1 = torch.diag(torch.tensor([0.0, 1.0, 1.0], dtype=torch.float64))
    p2 = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)
    a = [torch.linalg.inv(yiq) @ p @ yiq for p in (p0, p1, p2)]
    grey = torch.ones(3, 1, dtype=torch.float64) @ _LUMA.double()[None]
    return torch.stack([*a, *(ak @ grey for ak in a)]).view(6, 9)


_JITTER_BASIS = _jitter_basis()


def _cst_matrix(strength: Tensor, seed: Tensor) -> Tensor:
    """The (B, 3, 3) matrices of :func:`color_space_transform`, on the host."""
    r = torch.empty(len(seed), 3, 3, dtype=torch.float32)  # draws: not the default dtype
    for ri, g in zip(r, generators(seed, "cpu"), strict=True):
        torch.randn(3, 3, generator=g, out=ri)
    r.div_(3)
    m = torch.eye(3, dtype=strength.dtype) + strength[:, None, None] * r.to(strength.dtype)
    return m / m.sum(-1, keepdim=True).clamp_min(0.2)


def _cst_coeffs(strength: Tensor, seed: Tensor) -> dict[str, Tensor]:
    b = len(seed)
    zero = torch.zeros(b, 4, dtype=strength.dtype)
    return {"matrix": _cst_matrix(strength, seed), "luma_weight": zero[:, :3], "bias": zero[:, 3]}


@register(
    "color_space_transform",
    [Param("strength", (0.05, 0.1, 0.18, 0.28, 0.4), 0.0, 0.4), seed_param()],
    family="color",
    tags=("qpt-v2",),
    color=True,
    host=True,
    joint=(COLOR_AFFINE, _cst_coeffs),
)
def color_space_transform(x: Tensor, strength: Tensor, seed: Tensor | None = None) -> Tensor:
    """Random linear colour-space transform: pixels times ``I + strength * R``.

    R is a per-sample random 3x3 matrix (normal entries / 3, from ``seed``); rows of the
    result are renormalised so that grey stays grey in brightness. Models camera/ISP colour
    matrices (the QPT V2 "colour-space transformation").

    Shape: x (B, 3, H, W); strength (B,); seed (B,).
    """
    # built on the host (host=True) and copied once
    return color_matrix(x, to_like(_cst_matrix(strength, seed), x))


@uint8_form("color_jitter")
def _color_jitter_u8(
    x: Tensor, brightness: Tensor, contrast: Tensor, saturation: Tensor, hue: Tensor
) -> Tensor:
    c = _jitter_coeffs(brightness, contrast, saturation, hue)
    return _cv.color_affine_u8(x, c["matrix"], c["bias"], c["luma_weight"])


ColorJitter = module_form("ColorJitter", "color_jitter")

ColorSpaceTransform = module_form("ColorSpaceTransform", "color_space_transform")


def _gamma(x: Tensor, gamma: Tensor) -> Tensor:
    if _cv.usable(x) and x.dtype == torch.float32:  # image by image in cache
        return _cv.power(x, gamma.tolist())
    return _gamma_torch(x, gamma)


def _gamma_torch(x: Tensor, gamma: Tensor) -> Tensor:
    # exp(g log x) is faster than pow on CPU; log(0) = -inf gives exp(-inf) = 0 as 0**g
    return x.clamp_min(0).log_().mul_(bcast(gamma)).exp_()


def _byte_maps(impl: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """The uint8 form of a point op ``impl`` (each value mapped alone, per-sample values):
    its float result on the 256 levels of each sample, rounded as the float form rounds,
    applied as a byte table (:func:`degrade._cv.map_bytes`). Tables are cached per setting
    (levels repeat), so most calls compute none."""

    @functools.lru_cache(maxsize=1024)
    def table(setting: tuple[tuple[str, float, torch.dtype], ...]) -> np.ndarray:
        levels = torch.arange(256, dtype=torch.float32).div_(255.0).view(1, 1, 1, 256)
        kw = {k: torch.tensor([v], dtype=dt) for k, v, dt in setting}
        return impl(levels, **kw).clamp_(0.0, 1.0).mul_(255.0).round_().to(torch.uint8).numpy()

    def form(x: Tensor, **values: Tensor) -> Tensor:
        cols = [[(k, v, t.dtype) for v in t.tolist()] for k, t in values.items()]
        settings = list(zip(*cols, strict=True))
        return _cv.map_bytes(x, np.stack([table(s).reshape(256) for s in settings]))

    return form


@register(
    "brighten",
    [Param("gamma", (0.8, 0.65, 0.5, 0.38, 0.28), 0.25, 1.0)],
    family="tone",
    tags=("kadid",),
    differentiable=False,
)
def brighten(x: Tensor, gamma: Tensor) -> Tensor:
    """Brighten with a gamma curve ``x ** gamma`` (gamma < 1) applied to every channel.

    Shape: x (B, C, H, W); gamma (B,) in (0, 1].
    """
    return _gamma(x, gamma)


@register(
    "darken",
    [Param("gamma", (1.3, 1.7, 2.2, 2.9, 3.8), 1.0, 4.0)],
    family="tone",
    tags=("kadid",),
    differentiable=False,
)
def darken(x: Tensor, gamma: Tensor) -> Tensor:
    """Darken with a gamma curve ``x ** gamma`` (gamma > 1).

    Shape: x (B, C, H, W); gamma (B,) >= 1.
    """
    return _gamma(x, gamma)


@register(
    "mean_shift",
    [Param("shift", (0.05, 0.1, 0.16, 0.23, 0.3), -0.3, 0.3)],
    family="tone",
    tags=("kadid",),
)
def mean_shift(x: Tensor, shift: Tensor) -> Tensor:
    """Add a constant ``shift`` to every pixel (KADID mean shift; negative darkens).

    Shape: x (B, C, H, W); shift (B,) in [-1, 1].
    """
    return x + bcast(shift)


@register(
    "contrast_change",
    # accepted from 0 (a flat image of the mean): ImageNet-C's contrast goes down to 0.05
    [Param("factor", (0.75, 0.6, 0.45, 0.32, 0.2), 0.2, 1.8, limits=(0.0, 1.8))],
    family="tone",
    tags=("kadid", "imagenet-c"),
)
def contrast_change(x: Tensor, factor: Tensor) -> Tensor:
    """Scale contrast around each image's mean grey level (factor < 1 flattens).

    Shape: x (B, C, H, W); factor (B,).
    """
    if x.shape[1] == 1:
        m = x.mean((1, 2, 3), keepdim=True)
        return m + (x - m) * bcast(factor)
    if gpu_path(x):
        return adjust_contrast_with_mean_subtraction(x, factor)
    # kornia's operator as one pass after the means: m (1 - f) + f x, m the mean luma
    f = bcast(factor.to(x.dtype))
    m = bcast(x.mean((2, 3)) @ _LUMA.to(x.dtype))
    return torch.addcmul(m * (1 - f), x, f)


@uint8_form("contrast_change")
def _contrast_change_u8(x: Tensor, factor: Tensor) -> Tensor:
    return _cv.contrast_u8(x, factor.tolist())


@register(
    "color_saturation_1",
    [Param("factor", (0.7, 0.5, 0.3, 0.15, 0.0), 0.0, 1.0)],
    family="color",
    tags=("kadid",),
    color=True,
)
def color_saturation_1(x: Tensor, factor: Tensor) -> Tensor:
    """Desaturate: multiply the HSV saturation by ``factor`` (0 = grey).

    Shape: x (B, 3, H, W); factor (B,).
    """
    return hsv_saturation(x, factor)


def hsv_saturation(x: Tensor, factor: Tensor) -> Tensor:
    """Multiply the HSV saturation by ``factor`` (clipped to 1), hue and value kept.

    Closed form of RGB -> HSV -> scale S -> RGB (kornia's ``adjust_saturation`` on HSV):
    with V = max and m = min over channels, each channel is affine in S at fixed H and V, so
    ``c' = V - g (V - c)`` with ``g = min(factor, V / (V - m))`` (the clip at S = 1). Two
    passes instead of two colour-space conversions; equal to kornia's to float rounding.

    Shape: x (B, 3, H, W); factor (B,).
    """
    v, m = x.amax(1, keepdim=True), x.amin(1, keepdim=True)
    f = bcast(factor.to(x.dtype))
    g = torch.minimum(f, v / (v - m).clamp_min(1e-12))
    return torch.lerp(v, x, g)


def _scale_ab(x: Tensor, factor: Tensor) -> Tensor:
    if _cv.usable(x):
        factors = factor.tolist()

        def scale(i: int, f: Tensor) -> None:  # a* and b* times k: f' = fy + k (f - fy)
            torch.lerp(f[1], f[0::2], factors[i], out=f[0::2])

        return ab_images(x, scale)
    lab = rgb_to_lab(x)
    lab = torch.cat([lab[:, :1], lab[:, 1:] * bcast(factor)], 1)
    return lab_to_rgb(lab)


@register(
    "color_saturation_2",
    [Param("factor", (1.5, 2.0, 2.7, 3.6, 4.8), 1.0, 5.0)],
    family="color",
    tags=("kadid",),
    color=True,
    differentiable=False,
)
def color_saturation_2(x: Tensor, factor: Tensor) -> Tensor:
    """Over-saturate: multiply the CIELAB a*, b* channels by ``factor`` (> 1).

    Shape: x (B, 3, H, W); factor (B,).
    """
    return _scale_ab(x, factor)


@register(
    "saturate",
    [Param("factor", (1.8, 3.0, 5.0, 9.0, 16.0), 1.0, 20.0)],
    family="color",
    tags=("imagenet-c",),
    color=True,
)
def saturate(x: Tensor, factor: Tensor) -> Tensor:
    """ImageNet-C saturate: HSV saturation times ``factor`` (clipped to 1).

    ImageNet-C's own table mixes desaturation (levels 1-2) and saturation (3-5); here the
    levels are monotone over-saturation, desaturation being ``color_saturation_1``.

    Shape: x (B, 3, H, W); factor (B,).
    """
    return hsv_saturation(x, factor)


@register(
    "color_diffusion",
    [Param("sigma", (1.0, 2.5, 5.0, 8.0, 12.0), 0.5, 12.0)],
    family="color",
    tags=("kadid",),
    color=True,
    differentiable=False,
)
def color_diffusion(x: Tensor, sigma: Tensor) -> Tensor:
    """Colour diffusion: Gaussian blur of the CIELAB a*, b* channels only (colour bleeding).

    Shape: x (B, 3, H, W); sigma (B,) pixels.
    """
    if _cv.usable(x):
        h, w = x.shape[-2:]

        def blur(i: int, f: Tensor) -> None:  # a* and b* blurred: fy + blur(f - fy)
            d = (f[0::2] - f[1]).view(1, 2, h, w)
            f[0::2] = blur_sigma(d, sigma[i : i + 1]).view(2, -1).add_(f[1])

        return ab_images(x, blur)
    lab = rgb_to_lab(x)
    ab = blur_sigma(lab[:, 1:], sigma)
    return lab_to_rgb(torch.cat([lab[:, :1], ab], 1))


@register(
    "color_shift",
    [Param("shift", (2.0, 4.0, 7.0, 11.0, 16.0), 1.0, 16.0), Param("angle", (), 0.0, 360.0)],
    family="color",
    tags=("kadid",),
    color=True,
)
def color_shift(x: Tensor, shift: Tensor, angle: Tensor) -> Tensor:
    """Colour shift (misregistration): translate the green channel by ``shift`` pixels at
    ``angle`` degrees (kornia ``translate``, reflected border).

    Shape: x (B, 3, H, W); shift, angle (B,).
    """
    a = torch.deg2rad(angle)
    t = torch.stack([shift * torch.cos(a), shift * torch.sin(a)], -1).to(x.dtype)
    if gpu_path(x) or int(shift.abs().max()) + 2 >= min(x.shape[-2:]):
        g = translate(x[:, 1:2], t, padding_mode="reflection", align_corners=True)
    else:  # per image, as two 2-tap filters: cheaper than a warp on CPU
        g = per_image(x[:, 1:2], t.tolist(), lambda c, ti: shift_image(c, *ti))
    return torch.cat([x[:, :1], g, x[:, 2:]], 1)


def shift_image(x: Tensor, tx: float, ty: float) -> Tensor:
    """Translate one image (C, H, W) by (tx, ty) pixels: bilinear, reflect-101 borders.

    What ``kornia.geometry.transform.translate`` computes with reflection padding and
    aligned corners (``out(p) = in(p - t)``), written as one 2-tap filter per axis.
    """
    h, w = x.shape[-2:]
    nx, ny = math.floor(tx), math.floor(ty)
    r = max(abs(nx), abs(ny)) + 1
    p = reflect_pad(x, r)
    c0, r0 = r - nx, r - ny  # in(j - n) lives at padded index j + r - n
    p = torch.lerp(p[..., c0 : c0 + w], p[..., c0 - 1 : c0 - 1 + w], tx - nx)
    return torch.lerp(p[:, r0 : r0 + h], p[:, r0 - 1 : r0 - 1 + h], ty - ny)


def _quantize(v: Tensor, levels: Tensor) -> Tensor:
    """Round to ``levels`` uniform values in [0, 1]. The level tables use 2^k + 1 values, so
    each severity's grid contains the next one's and the error can only grow."""
    n = bcast(levels.to(v.dtype)) - 1
    return torch.round(v.clamp(0, 1) * n) / n


@register(
    "color_quantization",
    [Param("levels", (33, 17, 9, 5, 3), 2, 33, kind="int")],
    family="color",
    tags=("kadid",),
    differentiable=False,
)
def color_quantization(x: Tensor, levels: Tensor) -> Tensor:
    """Colour quantisation: each RGB channel rounded to ``levels`` uniform values.

    Shape: x (B, C, H, W); levels (B,) int >= 2.
    """
    return _quantize(x, levels)


@register(
    "quantization",
    [Param("levels", (17, 9, 5, 3, 2), 2, 33, kind="int")],
    family="tone",
    tags=("kadid",),
    differentiable=False,
)
def quantization(x: Tensor, levels: Tensor) -> Tensor:
    """Grey-level quantisation: the luma (YCbCr Y) rounded to ``levels`` values, chroma kept.

    Shape: x (B, C, H, W); levels (B,) int >= 2.
    """
    if x.shape[1] == 1:
        return _quantize(x, levels)
    # changing Y at fixed Cb, Cr moves R, G and B by the same amount (the YCbCr -> RGB rows
    # all have a unit Y coefficient), so no round trip through YCbCr is needed
    y = torch.einsum("c,bchw->bhw", to_like(_LUMA, x), x)[:, None]
    return x + (_quantize(y, levels) - y)


Brighten = module_form("Brighten", "brighten")
Darken = module_form("Darken", "darken")
uint8_form("brighten", "darken")(_byte_maps(_gamma_torch))
uint8_form("mean_shift")(_byte_maps(lambda x, shift: x + bcast(shift)))

MeanShift = module_form("MeanShift", "mean_shift")
ContrastChange = module_form("ContrastChange", "contrast_change")
ColorSaturation1 = module_form("ColorSaturation1", "color_saturation_1")
ColorSaturation2 = module_form("ColorSaturation2", "color_saturation_2")
Saturate = module_form("Saturate", "saturate")
ColorDiffusion = module_form("ColorDiffusion", "color_diffusion")
ColorShift = module_form("ColorShift", "color_shift")
ColorQuantization = module_form("ColorQuantization", "color_quantization")
Quantization = module_form("Quantization", "quantization")
