"""Blur ops: Gaussian, lens (disc), motion, plus ImageNet-C defocus, glass and zoom blur."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from degrade import _cv
from degrade._batch import grouped, runs
from degrade._checks import to_device, to_like
from degrade._cpu_filters import fft_filter_images
from degrade._linear import gaussian_blur_separable, gaussian_taps
from degrade._random import bcast, seeded_uniform
from degrade.kernels import disc_kernel, motion_kernel, odd
from degrade.ops.kernel_blur import filter_per_sample
from degrade.registry import Joint, Param, module_form, register, seed_param, uint8_form

__all__ = [
    "gaussian_blur",
    "lens_blur",
    "motion_blur",
    "defocus_blur",
    "glass_blur",
    "zoom_blur",
    "blur_sigma",
    "unsharp",
    "GaussianBlur",
    "LensBlur",
    "MotionBlur",
    "DefocusBlur",
    "GlassBlur",
    "ZoomBlur",
]

KADID = ("kadid", "qpt-v2", "imagenet-c")


def blur_sigma(x: Tensor, sigma: Tensor) -> Tensor:
    """Per-sample isotropic Gaussian blur, sigma: (B,); 2*ceil(3*sigma)+1 taps, reflect-101.

    Separable, as a tap loop or per-sample matrices (:mod:`degrade._linear`): kornia's
    ``gaussian_blur2d`` with per-sample sigma runs a grouped convolution, slower on CPU; the
    result is the same (to float rounding) and matches ``cv2.GaussianBlur``.
    """
    return gaussian_blur_separable(x, sigma.to(x.dtype).clamp_min(0.05))


def unsharp(x: Tensor, sigma: Tensor, weight: Tensor) -> Tensor:
    """``lerp(blur(x, sigma), x, weight)`` per sample: weight 0 is the Gaussian blur itself
    (exactly: lerp returns its start), ``1 + a`` the unsharp mask ``x + a (x - blur(x))``.

    The joint form of blur and sharpen. Shape: x (B, C, H, W); sigma, weight (B,) on the host.
    """
    if _cv.usable(x) and bool((weight != 0).any()):  # OpenCV's blur and weighted sum per plane
        s = sigma.to(x.dtype).clamp_min(0.05)
        radius = _cv.blur_radius(s)
        if max(radius) < min(x.shape[-2:]):  # the joint form's result is final: clamped
            return _cv.unsharp(x, s.tolist(), radius, (weight - 1).tolist())
    return torch.lerp(blur_sigma(x, sigma), x, to_like(bcast(weight), x))


#: blur and sharpen samples run in one call (a GPU call costs about the same at any size)
UNSHARP = Joint("unsharp", unsharp)


def _blur_coeffs(sigma: Tensor) -> dict[str, Tensor]:
    return {"sigma": sigma, "weight": torch.zeros_like(sigma)}


@register(
    "gaussian_blur",
    [Param("sigma", (0.5, 1.0, 2.0, 3.5, 5.5), 0.1, 6.0)],
    family="blur",
    tags=KADID,
    host=True,
    joint=(UNSHARP, _blur_coeffs),
)
def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Gaussian blur with per-sample sigma (pixels); kernel 2*ceil(3*sigma)+1, reflect border.

    Shape: x (B, C, H, W) -> (B, C, H, W); sigma scalar or (B,).

    Example:
        >>> gaussian_blur(torch.rand(2, 3, 32, 32), torch.tensor([1.0, 2.0])).shape
        torch.Size([2, 3, 32, 32])
    """
    y = _gaussian_blur_cpu(x, sigma) if _cv.usable(x) else None
    return blur_sigma(x, sigma) if y is None else y


GaussianBlur = module_form("GaussianBlur", "gaussian_blur")


@uint8_form("gaussian_blur")
def _gaussian_blur_cpu(x: Tensor, sigma: Tensor) -> Tensor | None:
    """The OpenCV form (uint8 or float32, clamped), or None for kernels longer than the image."""
    sigma = sigma.float().clamp_min(0.05)
    radius = _cv.blur_radius(sigma)
    if max(radius) >= min(x.shape[-2:]):
        return None
    return _cv.gaussian_blur(x, sigma.tolist(), radius, clamp=True)


def _disc_sizes(radius: Tensor) -> list[int]:
    return [odd(2 * r + 3) for r in radius.tolist()]


def _disc_blur(x: Tensor, radius: Tensor) -> Tensor:
    keys = _disc_sizes(radius)
    return grouped(x, keys, lambda xs, i, k: filter_per_sample(xs, disc_kernel(k, radius[i])))


@functools.lru_cache(maxsize=1024)
def _disc_support(k: int, radius: float) -> _cv.Support:
    return _cv.support(disc_kernel(k, torch.tensor([radius]))[0])


@functools.lru_cache(maxsize=1024)
def _motion_support(k: int, length: float, angle: float) -> _cv.Support:
    return _cv.support(motion_kernel(k, torch.tensor([length]), torch.tensor([angle]))[0])


def _fits(x: Tensor, sizes: list[int]) -> bool:
    """Whether kernels of ``sizes`` fit reflect padding of ``x`` (else the torch forms trim)."""
    return max(sizes) <= 2 * min(x.shape[-2:]) - 1


# the OpenCV forms (uint8 or float32 in, clamped out; None where they do not apply), used by
# the ops on CPU and as their uint8 forms; each distinct kernel is built once (levels and
# fixed values repeat across samples and calls)


@uint8_form("lens_blur")
def _lens_blur_cpu(x: Tensor, radius: Tensor) -> Tensor | None:
    sizes = _disc_sizes(radius)
    if not _fits(x, sizes):
        return None
    ks = [_disc_support(k, r) for k, r in zip(sizes, radius.float().tolist(), strict=True)]
    return _cv.filter2d(x, ks, clamp=True)


@uint8_form("defocus_blur")
def _defocus_blur_cpu(x: Tensor, radius: Tensor) -> Tensor | None:
    """One FFT filter per image for large discs, OpenCV's direct filters per plane for small
    ones, each over runs of consecutive samples (slices: no gather; clamped for float32,
    as both forms are)."""
    sizes = _disc_sizes(radius)
    if not _fits(x, sizes):
        return None
    values = list(zip(sizes, radius.float().tolist(), strict=True))
    by_fft = [_by_fft(k, r, min(x.shape[-2:])) for k, r in values]
    spans = list(runs(by_fft))
    out = None if len(spans) == 1 else torch.empty_like(x)
    for i0, i in spans:
        if by_fft[i0]:
            y = fft_filter_images(x[i0:i], [_defocus_kernel(*v) for v in values[i0:i]])
        else:
            discs = [_disc_support(*v) for v in values[i0:i]]
            y = _cv.filter2d_then_blur(x[i0:i], discs, DEFOCUS_ALIAS_SIGMA)
        if out is None:
            return y
        out[i0:i] = y
    return _cv.mark_clamped(out) if x.dtype == torch.float32 else out


def _by_fft(k: int, radius: float, side: int) -> bool:
    """Whether the defocus disc of ``radius`` runs as one FFT filter: large enough to gain,
    and its kernel within the reflect padding of an image of ``side`` pixels."""
    if _disc_support(k, radius)[0].shape[-1] < DEFOCUS_FFT_MIN_SUPPORT:
        return False
    return _defocus_kernel(k, radius).shape[-1] // 2 < side


#: from this disc support on (11 x 11 taps), one FFT per image beats OpenCV's direct
#: ``filter2D`` and Gaussian per plane (degrade/README.md gives the timings)
DEFOCUS_FFT_MIN_SUPPORT = 11


#: the slight Gaussian after the disc of defocus blur, and its tap radius (ceil(3 sigma))
DEFOCUS_ALIAS_SIGMA, DEFOCUS_ALIAS_RADIUS = 0.5, 2


@functools.lru_cache(maxsize=1024)
def _defocus_kernel(k: int, radius: float) -> Tensor:
    """The disc of ``radius``, cut to its support (m, m), convolved with the Gaussian of
    defocus blur: one (m + 4, m + 4) float32 kernel.

    Filtering with it is filtering with the disc, then the Gaussian, both reflect-101, to
    float rounding: both kernels are symmetric about each axis, so the disc-filtered image
    continues past the borders as its own reflect-101 extension, which is what the Gaussian
    reads there.
    """
    g = gaussian_taps(torch.tensor([DEFOCUS_ALIAS_SIGMA], dtype=torch.float64))[0]
    disc = torch.from_numpy(_disc_support(k, radius)[0]).double()
    pad = 2 * DEFOCUS_ALIAS_RADIUS
    full = F.conv2d(disc[None, None], torch.outer(g, g)[None, None], padding=pad)
    return full[0, 0].float()


@uint8_form("motion_blur")
def _motion_blur_cpu(x: Tensor, length: Tensor, angle: Tensor) -> Tensor | None:
    sizes = [odd(v + 2) for v in length.tolist()]
    if not _fits(x, sizes):
        return None
    values = zip(sizes, length.float().tolist(), angle.float().tolist(), strict=True)
    return _cv.filter2d(x, [_motion_support(*v) for v in values], clamp=True)


def _cpu_form(form: Callable[..., Tensor | None], x: Tensor, *args: Tensor) -> Tensor | None:
    """``form(x, *args)`` where the OpenCV forms apply to ``x``, else None."""
    return form(x, *args) if _cv.usable(x) else None


@register(
    "lens_blur",
    [Param("radius", (1.0, 2.0, 3.5, 5.5, 8.0), 0.5, 8.0)],
    family="blur",
    tags=("kadid",),
    host=True,
)
def lens_blur(x: Tensor, radius: Tensor) -> Tensor:
    """Lens (out-of-focus) blur: convolution with an anti-aliased disc of per-sample radius.

    Shape: x (B, C, H, W); radius (B,) pixels.
    """
    y = _cpu_form(_lens_blur_cpu, x, radius)
    return _disc_blur(x, radius) if y is None else y


@register(
    "motion_blur",
    [Param("length", (3.0, 6.0, 10.0, 15.0, 21.0), 1.0, 25.0), Param("angle", (), 0.0, 180.0)],
    family="blur",
    tags=("kadid",),
    host=True,
)
def motion_blur(x: Tensor, length: Tensor, angle: Tensor) -> Tensor:
    """Linear motion blur: an anti-aliased segment of ``length`` pixels at ``angle`` degrees.

    Shape: x (B, C, H, W); length, angle (B,).
    """
    y = _cpu_form(_motion_blur_cpu, x, length, angle)
    if y is not None:
        return y
    keys = [odd(v + 2) for v in length.tolist()]
    return grouped(
        x, keys, lambda xs, i, k: filter_per_sample(xs, motion_kernel(k, length[i], angle[i]))
    )


@register(
    "defocus_blur",
    [Param("radius", (3.0, 4.0, 6.0, 8.0, 10.0), 1.0, 10.0)],
    family="blur",
    tags=("imagenet-c",),
    host=True,
)
def defocus_blur(x: Tensor, radius: Tensor) -> Tensor:
    """ImageNet-C defocus blur: disc kernel (radius 3, 4, 6, 8, 10 at 224 px) + slight Gaussian.

    Shape: x (B, C, H, W); radius (B,) pixels.
    """
    y = _cpu_form(_defocus_blur_cpu, x, radius)
    alias = torch.full_like(radius, DEFOCUS_ALIAS_SIGMA)
    return blur_sigma(_disc_blur(x, radius), alias) if y is None else y


def _jitter_pixels(x: Tensor, amount: Tensor, seed: Tensor) -> Tensor:
    """Move every pixel by a random offset uniform in +-amount px (per sample): output pixel
    p is the input pixel nearest to p + offset (ties to even), reflected about the border
    pixels (reflect-101). OpenCV's ``remap`` on CPU, a gather of the same indices elsewhere:
    the same pixels.

    Shape: x (B, C, H, W) float or uint8 (the pixels are moved, not mixed); amount, seed (B,).
    """
    b, c, h, w = x.shape
    like = x if x.is_floating_point() else x.new_empty(0, dtype=torch.float32)
    off = seeded_uniform((2, h, w), seed, like).mul_(2).sub_(1).mul_(to_like(bcast(amount), like))
    if _cv.usable(x):
        return _cv.remap_nearest(x, off)
    gy = torch.arange(h, device=x.device, dtype=off.dtype)[:, None]
    gx = torch.arange(w, device=x.device, dtype=off.dtype)
    idx = _nearest_reflected(gy + off[:, 1], h) * w + _nearest_reflected(gx + off[:, 0], w)
    return x.flatten(2).gather(2, idx.view(b, 1, h * w).expand(b, c, h * w)).view_as(x)


def _nearest_reflected(pos: Tensor, n: int) -> Tensor:
    """The nearest integers to ``pos`` (ties to even, as OpenCV rounds), reflected into
    0..n-1 about the end pixels (reflect-101). Long, ``pos``'s shape."""
    i = pos.round().long()
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i > n - 1, period - i, i)


@register(
    "glass_blur",
    [
        Param("sigma", (0.7, 0.9, 1.0, 1.1, 1.5), 0.5, 1.5),
        Param("delta", (1.0, 2.0, 2.0, 3.0, 4.0), 1.0, 4.0),
        Param("iterations", (2, 1, 3, 2, 2), 1, 3, kind="int"),
        seed_param(),
    ],
    family="blur",
    tags=("imagenet-c",),
    host=True,
)
def glass_blur(
    x: Tensor, sigma: Tensor, delta: Tensor, iterations: Tensor, seed: Tensor | None = None
) -> Tensor:
    """ImageNet-C glass blur: blur, local random pixel displacement (``iterations`` times, up to
    ``delta`` px), blur again. The displacement is a vectorised stand-in for IN-C's sequential
    pixel swaps (same reach, no Python loop over pixels).

    Shape: x (B, C, H, W); sigma, delta (B,); iterations (B,) int; seed (B,).
    """
    y = blur_sigma(x, sigma)

    def run(xs: Tensor, idx: Tensor, n: int) -> Tensor:
        for it in range(n):
            xs = _jitter_pixels(xs, delta[idx], seed[idx] + it)
        return xs

    y = grouped(y, iterations.tolist(), run)
    return blur_sigma(y, sigma)


#: zoom blur: the values a call of its GPU form may hold in zoomed copies at once
ZOOM_CHUNK_VALUES = 2**26


@register(
    "zoom_blur",
    [
        Param("zoom", (1.11, 1.16, 1.21, 1.26, 1.31), 1.02, 1.35),
        Param("step", (0.01, 0.01, 0.02, 0.02, 0.03), 0.01, 0.03),
    ],
    family="blur",
    tags=("imagenet-c",),
    host=True,
)
def zoom_blur(x: Tensor, zoom: Tensor, step: Tensor | float = 0.02) -> Tensor:
    """ImageNet-C zoom blur: the mean of the image and its zooms ``np.arange(1, zoom, step)``.

    Each zoom is ImageNet-C's clipped zoom (:func:`zoom_crops`): an integer centre crop
    resized bilinearly (``cv2.resize``'s half-pixel grid) and cut to the image's top-left
    H x W. Level s is ImageNet-C's severity s: ``zoom`` its ``arange`` stop, ``step`` its step.
    On CPU, OpenCV resizes the crops (:func:`degrade._cv.zoom_blur`); the GPU form samples
    the same positions with ``grid_sample``, zoom by zoom, as many samples at once as
    ``ZOOM_CHUNK_VALUES`` allows. ``step`` defaults to 0.02 (ImageNet-C's severities 3-4).

    Shape: x (B, C, H, W); zoom, step (B,) on the host.
    """
    crops = _zoom_crops_per_sample(x, zoom, step)
    if _cv.usable(x):
        return _cv.zoom_blur(x, crops)
    return _zoom_blur_grid(x, crops)


#: a zoom of an (H, W) image: its crop's top, left, height and width, and the size the crop
#: is resized to (oh, ow) before its top-left H x W is kept
ZoomCrop = tuple[int, int, int, int, int, int]


@functools.lru_cache(maxsize=1024)
def zoom_crops(h: int, w: int, zoom: float, step: float) -> tuple[tuple[ZoomCrop, ...], int]:
    """ImageNet-C's clipped zooms ``z`` in ``np.arange(1, zoom, step)`` of an (h, w) image:
    the ``ceil(h / z)`` x ``ceil(w / z)`` crop from ``((h - ch) // 2, (w - cw) // 2)``,
    resized to ``round(ch z)`` x ``round(cw z)``. Zooms that leave the image as it is (z = 1)
    are counted, not listed. ``zoom`` and ``step`` are taken to 6 decimals (float32 values).

    Returns:
        the crops of the other zooms, and the number of zooms in all.
    """
    zs = np.arange(1.0, round(zoom, 6), round(step, 6)).tolist()
    crops = []
    for z in zs:
        ch, cw = math.ceil(h / z), math.ceil(w / z)
        crop = ((h - ch) // 2, (w - cw) // 2, ch, cw, round(ch * z), round(cw * z))
        if crop != (0, 0, h, w, h, w):
            crops.append(crop)
    return tuple(crops), len(zs)


def _zoom_crops_per_sample(
    x: Tensor, zoom: Tensor, step: Tensor
) -> list[tuple[tuple[ZoomCrop, ...], int]]:
    """:func:`zoom_crops` of every sample of ``x`` (B, C, H, W); zoom, step (B,)."""
    h, w = x.shape[-2:]
    return [zoom_crops(h, w, z, s) for z, s in zip(zoom.tolist(), step.tolist(), strict=True)]


def _zoom_blur_grid(x: Tensor, crops: list[tuple[tuple[ZoomCrop, ...], int]]) -> Tensor:
    """The GPU form: zoom j of every sample that has one, ``grid_sample``d in chunks of
    samples at the positions ``cv2.resize`` reads (:func:`_zoom_grid`).

    Shape: x (B, C, H, W) float; returns the same.
    """
    b = x.shape[0]
    # the zooms that leave the image as it is count as the image itself
    weight = torch.tensor([1.0 + n - len(cs) for cs, n in crops])
    acc = x * to_like(weight, x).view(b, 1, 1, 1)
    k = max(1, ZOOM_CHUNK_VALUES // x[0].numel())
    for j in range(max(len(cs) for cs, _ in crops)):
        has = [i for i, (cs, _) in enumerate(crops) if len(cs) > j]
        for c0 in range(0, len(has), k):
            idx = has[c0 : c0 + k]
            grid = _zoom_grid([crops[i][0][j] for i in idx], x)
            sel = slice(None) if len(idx) == b else to_device(torch.tensor(idx), x.device)
            acc[sel] += F.grid_sample(
                x[sel], grid, "bilinear", padding_mode="border", align_corners=False
            )
    count = torch.tensor([n + 1.0 for _, n in crops])
    return acc / to_like(count, x).view(b, 1, 1, 1)


def _zoom_grid(crops: list[ZoomCrop], like: Tensor) -> Tensor:
    """(K, H, W, 2) ``grid_sample`` grid (``align_corners=False``) of K zooms of ``like``'s
    (H, W) images, on its device: output pixel (i, j) reads the crop at
    ``((i + 0.5) ch / oh - 0.5, (j + 0.5) cw / ow - 0.5)`` clamped to the crop, as
    ``cv2.resize`` and ``F.interpolate`` do. The positions are computed on the host in float64.
    """
    h, w = like.shape[-2:]
    t = torch.tensor(crops, dtype=torch.float64)  # (K, 6): top, left, ch, cw, oh, ow
    gy = _zoom_positions(t[:, 0], t[:, 2], t[:, 4], h)
    gx = _zoom_positions(t[:, 1], t[:, 3], t[:, 5], w)
    gy, gx = to_like(gy, like), to_like(gx, like)
    k = len(crops)
    return torch.stack((gx[:, None, :].expand(k, h, w), gy[:, :, None].expand(k, h, w)), -1)


def _zoom_positions(start: Tensor, size: Tensor, zoomed: Tensor, n: int) -> Tensor:
    """(K, n) normalised positions (``align_corners=False``) that the first n pixels of K
    crops (start, size) resized to ``zoomed`` pixels read along one axis of length n."""
    i = torch.arange(n, dtype=start.dtype)
    pos = (i + 0.5) * (size / zoomed)[:, None] - 0.5
    pos = start[:, None] + torch.minimum(pos.clamp(min=0), (size - 1)[:, None])
    return (2 * pos + 1) / n - 1


@uint8_form("zoom_blur")
def _zoom_blur_cpu(x: Tensor, zoom: Tensor, step: Tensor) -> Tensor:
    return _cv.zoom_blur(x, _zoom_crops_per_sample(x, zoom, step))


LensBlur = module_form("LensBlur", "lens_blur")

MotionBlur = module_form("MotionBlur", "motion_blur")

DefocusBlur = module_form("DefocusBlur", "defocus_blur")

GlassBlur = module_form("GlassBlur", "glass_blur")

ZoomBlur = module_form("ZoomBlur", "zoom_blur")
