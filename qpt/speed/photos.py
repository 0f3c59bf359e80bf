"""The benchmarks' input: crops of scikit-image's bundled real photos (no download)."""

from __future__ import annotations

import numpy as np
import torch


def photo_crops(batch: int, size: int = 224, seed: int = 0) -> torch.Tensor:
    """(batch, 3, size, size) uint8 crops of scikit-image's real photos (bundled, no download),
    at random scales and positions.

    Example:
        >>> photo_crops(2, size=32).shape, photo_crops(2, size=32).dtype
        (torch.Size([2, 3, 32, 32]), torch.uint8)
    """
    import cv2
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(seed)
    out = []
    for i in range(batch):
        p = photos[i % len(photos)]
        s = rng.uniform(size / min(p.shape[:2]), 1.0)
        h, w = max(size, round(p.shape[0] * s)), max(size, round(p.shape[1] * s))
        q = cv2.resize(p, (w, h), interpolation=cv2.INTER_AREA)
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out.append(q[y : y + size, x : x + size])
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous()
