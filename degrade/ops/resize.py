"""Resize ops: down/up round trips (Real-ESRGAN area/bilinear/bicubic) and pixelation."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from degrade import _cv
from degrade._batch import grouped
from degrade._checks import gpu_path
from degrade._cpu_filters import per_image, resize_roundtrip_image
from degrade._linear import resize_roundtrip
from degrade.registry import Param, module_form, register, uint8_form

__all__ = ["resize", "rescale", "pixelate", "resize_to", "Resize", "Pixelate"]

MODES = ("area", "bilinear", "bicubic")


def resize_to(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize (N, C, H, W) to ``size`` with ``mode``; antialiased when shrinking."""
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "area" or mode == "nearest":
        return F.interpolate(x, size=size, mode=mode)
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=shrink)


@register(
    "resize",
    [
        Param("scale", (0.8, 0.6, 0.45, 0.32, 0.22), 0.15, 1.5),
        Param("mode", kind="choice", choices=MODES),
    ],
    family="resize",
    tags=("qpt-v2", "realesrgan"),
    host=True,
)
def resize(x: Tensor, scale: Tensor, mode: list[str]) -> Tensor:
    """Resize by a per-sample ``scale`` with a per-sample ``mode``, then back to (H, W).

    Up-scaling (scale > 1) then down again is nearly lossless; scale < 1 loses detail. The
    size is restored with the same mode (bilinear after ``area``), Real-ESRGAN style. Both
    resizes are ``F.interpolate``'s operators (antialiased when shrinking) written as
    matrices: on CUDA one batched product (:func:`degrade._linear.resize_roundtrip`), on CPU
    a band tap loop per sample (:func:`degrade._cpu_filters.resize_roundtrip_image`), equal
    to ``F.interpolate`` down and up to float rounding.

    Shape: x (B, C, H, W); scale (B,); mode: B names in {area, bilinear, bicubic}.
    """
    h, w = x.shape[-2:]
    sizes = [(max(1, round(h * s)), max(1, round(w * s))) for s in scale.tolist()]
    if gpu_path(x):  # one batched product beats B small kernels on a GPU
        return resize_roundtrip(x, sizes, mode)
    # on CPU, per sample: band matrices as tap loops (cache-sized)
    return per_image(
        x, list(zip(sizes, mode, strict=True)), lambda xi, a: resize_roundtrip_image(xi, *a)
    )


def rescale(x: Tensor, scale: float, mode: str = "bicubic") -> Tensor:
    """Resize the whole batch by ``scale`` and keep the new size (the "not restored" form of
    :func:`resize`, e.g. for Real-ESRGAN-style low-resolution outputs).

    Shape: x (B, C, H, W) float in [0, 1] or uint8 -> (B, C, round(H s), round(W s)).
    """
    from degrade._checks import check_batch, restore_dtype, to_float

    check_batch(x, "rescale")
    if mode not in MODES:
        raise ValueError(f"rescale: mode must be one of {list(MODES)}, got {mode!r}")
    if not 0 < scale <= 16:
        raise ValueError(f"rescale: scale must be in (0, 16], got {scale}")
    h, w = x.shape[-2:]
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return restore_dtype(resize_to(to_float(x), size, mode), x.dtype)


@register(
    "pixelate",
    [Param("factor", (2, 3, 4, 6, 8), 1, 10, kind="int")],
    family="resize",
    tags=("kadid", "imagenet-c"),
    host=True,
)
def pixelate(x: Tensor, factor: Tensor) -> Tensor:
    """Pixelation: box-average down by an integer ``factor`` then nearest up (KADID, IN-C).

    Shape: x (B, C, H, W); factor (B,) int >= 1.
    """
    h, w = x.shape[-2:]

    def run(xs: Tensor, idx: Tensor, v: int) -> Tensor:
        if _cv.usable(xs) and h % v == 0 and w % v == 0:  # OpenCV's box average is the same
            return _cv.pixelate(xs, [v] * xs.shape[0])
        small = F.interpolate(xs, size=(max(1, h // v), max(1, w // v)), mode="area")
        return F.interpolate(small, size=(h, w), mode="nearest")

    return grouped(x, factor.clamp_min(1).tolist(), run)


@uint8_form("pixelate")
def _pixelate_u8(x: Tensor, factor: Tensor) -> Tensor | None:
    fs = factor.clamp_min(1).tolist()
    h, w = x.shape[-2:]
    if any(h % f or w % f for f in fs):  # the area resize of F.interpolate is then another
        return None
    return _cv.pixelate(x, fs)


Resize = module_form("Resize", "resize")

Pixelate = module_form("Pixelate", "pixelate")
