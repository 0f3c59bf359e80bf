"""Pixels for the backbone: safe image/video reading and quality-preserving crops.

Quality cues (noise, blur, compression blocks) live at the pixel scale, so the default input
is *crops at native resolution* rather than a squashing resize: ``n`` crops of ``size`` x
``size`` spread over the image (the centre for ``n = 1``, a regular grid otherwise) whose
features or predictions are averaged. Images smaller than ``size`` are upscaled (bicubic) just
enough to fit, the only resampling this mode does. ``mode="resize"`` squashes the whole image
to ``size`` x ``size`` instead (the usual classification preprocessing, kept for comparison).

Videos are read with OpenCV: ``frames`` frames evenly spaced over the clip go through the
image backbone one by one and their features are mean-pooled over time (the simplest temporal
pooling; it ignores motion, which the image backbone cannot see anyway).

Untrusted files are decoded by ``qpt_base.images`` with its one pixel cap (:data:`MAX_PIXELS`),
so a hostile image is counted as unreadable instead of exhausting memory.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from qpt_base.images import MAX_PIXELS, UnreadableImage, decode_rgb

CropMode = Literal["crops", "resize"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})


class UnreadableMedia(Exception):
    """An image or video that cannot be decoded (counted and reported, never fatal)."""


def read_image(path: Path) -> np.ndarray:
    """Decode an image file to ``(H, W, 3)`` uint8 RGB (EXIF orientation applied).

    Raises:
        UnreadableMedia: missing, truncated, not an image, or above :data:`MAX_PIXELS`.
    """
    try:
        return decode_rgb(path, MAX_PIXELS)
    except UnreadableImage as exc:
        raise UnreadableMedia(f"{path}: {exc}") from None


def read_video_frames(path: Path, frames: int) -> list[np.ndarray]:
    """``frames`` RGB frames ``(H, W, 3)`` uint8 evenly spaced over the video.

    Raises:
        UnreadableMedia: the file cannot be opened or holds no decodable frame.
    """
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise UnreadableMedia(f"{path}: cannot open video")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        out: list[np.ndarray] = []
        if count > 0:
            for index in np.linspace(0, count - 1, frames).round().astype(int):
                cap.set(cv2.CAP_PROP_POS_FRAMES, int(index))
                ok, frame = cap.read()
                if ok:
                    out.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        if not out:  # unknown length or seeking unsupported: read through, keep a spread
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            every = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                every.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if every:
                picks = np.linspace(0, len(every) - 1, frames).round().astype(int)
                out = [every[i] for i in picks]
        if not out:
            raise UnreadableMedia(f"{path}: no decodable frame")
        return out
    finally:
        cap.release()


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """``(H, W, 3)`` uint8 -> ``(3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0)


def _fit(x: torch.Tensor, size: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if min(h, w) >= size:
        return x
    scale = size / min(h, w)
    new = (max(size, math.ceil(h * scale)), max(size, math.ceil(w * scale)))
    return F.interpolate(x[None], size=new, mode="bicubic", align_corners=False)[0].clamp_(0, 1)


def crop_positions(h: int, w: int, size: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners of ``n`` deterministic crops (centre first, then a regular grid)."""
    if n < 1:
        raise ValueError(f"crops: need at least one crop, got {n}")
    if n == 1:
        return [((h - size) // 2, (w - size) // 2)]
    k = math.ceil(math.sqrt(n))
    ys = np.linspace(0, h - size, k).round().astype(int)
    xs = np.linspace(0, w - size, k).round().astype(int)
    grid = [(int(y), int(x)) for y in ys for x in xs]
    picks = np.linspace(0, len(grid) - 1, n).round().astype(int)
    return [grid[i] for i in picks]


def make_crops(
    image: np.ndarray | torch.Tensor, size: int, n: int = 1, mode: CropMode = "crops"
) -> torch.Tensor:
    """The views the backbone sees of one image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB, or ``(3, H, W)`` float in [0, 1] (the same image as
            ``uint8 / 255`` gives the same views).
        size: side of the square views.
        n: number of crops (``mode="crops"``); ignored for ``resize``.
        mode: ``crops`` (native resolution) or ``resize`` (squash to ``size``).

    Returns:
        ``(n, 3, size, size)`` float32 in [0, 1] (``(1, ...)`` for ``resize``).
    """
    x = image if isinstance(image, torch.Tensor) else to_tensor(image)
    if mode == "resize":
        return F.interpolate(x[None], size=(size, size), mode="bicubic", antialias=True).clamp_(
            0, 1
        )
    if mode != "crops":
        raise ValueError(f"crops: unknown mode '{mode}' (use 'crops' or 'resize')")
    x = _fit(x, size)
    h, w = x.shape[-2:]
    return torch.stack(
        [x[:, y : y + size, x0 : x0 + size] for y, x0 in crop_positions(h, w, size, n)]
    )


def random_crop(
    image: np.ndarray, size: int, generator: torch.Generator, mode: CropMode = "crops"
) -> torch.Tensor:
    """One training view: a random native-resolution crop with a random horizontal flip.

    Returns:
        ``(3, size, size)`` float32 in [0, 1].
    """
    if mode == "resize":
        x = make_crops(image, size, 1, "resize")[0]
    else:
        x = _fit(to_tensor(image), size)
        h, w = x.shape[-2:]
        y = int(torch.randint(0, h - size + 1, (1,), generator=generator))
        x0 = int(torch.randint(0, w - size + 1, (1,), generator=generator))
        x = x[:, y : y + size, x0 : x0 + size]
    if bool(torch.rand((), generator=generator) < 0.5):
        x = x.flip(-1)
    return x
