"""A picture of every op at severities 1-5: one row per op, the clean image first."""

from __future__ import annotations

import torch
from torch import Tensor
from torchvision.utils import draw_bounding_boxes, make_grid

from degrade.registry import apply, get_op, list_ops


def _label(tile: Tensor, text: str) -> Tensor:
    """Write ``text`` in the top-left corner of a (3, H, W) uint8 tile."""
    h, w = tile.shape[-2:]
    box = torch.tensor([[0, 0, w - 1, h - 1]])
    return draw_bounding_boxes(tile, box, labels=[text], colors="white", width=1, fill=False)


def gallery(image: Tensor, ops: list[str] | None = None, seed: int = 0) -> Tensor:
    """Grid of ``ops`` (default: all) x [clean, level 1..5] as a (3, H', W') uint8 image.

    Args:
        image: (1, 3, H, W) or (3, H, W), float in [0, 1] or uint8.
        ops: op names; RGB-only ops are included only for colour images.
        seed: generator seed (the same for every level, so levels differ only in severity).
    """
    x = image[None] if image.ndim == 3 else image
    if x.dtype != torch.uint8:
        x = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    names = ops if ops is not None else list_ops()
    tiles = []
    for name in names:
        get_op(name)  # unknown names raise here
        tiles.append(_label(x[0].expand(3, -1, -1).contiguous(), name))
        for lv in range(1, 6):
            y = apply(x, name, level=lv, generator=torch.Generator().manual_seed(seed))
            tiles.append(_label(y[0].expand(3, -1, -1).contiguous(), f"L{lv}"))
    return make_grid(torch.stack(tiles), nrow=6, padding=2, pad_value=255)
