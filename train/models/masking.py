"""MAE tensor helpers: random masking by mask unit, gathering, patchify / unpatchify."""

from __future__ import annotations

import torch
from torch import Tensor


def random_masking(
    batch: int,
    num_units: int,
    mask_ratio: float,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Choose, per sample, the mask units kept visible (MAE's shuffle-and-keep).

    Args:
        batch: B.
        num_units: N, number of mask units (16x16 patches) per image.
        mask_ratio: fraction of units masked, in [0, 1).
        generator: makes the choice reproducible (must live on ``device``).

    Returns:
        ids_keep: (B, L) indices of visible units, L = int(N * (1 - mask_ratio)), sorted.
        mask: (B, N) float, 1 = masked (to reconstruct), 0 = visible.
        ids_restore: (B, N) inverse permutation: visible-then-masked order -> original order.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    len_keep = max(1, int(num_units * (1 - mask_ratio)))
    noise = torch.rand(batch, num_units, device=device, generator=generator)
    ids_shuffle = torch.argsort(noise, dim=1)
    # sorting the kept ids keeps tokens in raster order, which helps nothing but debugging
    ids_keep = ids_shuffle[:, :len_keep].sort(dim=1).values
    ids_shuffle = torch.cat([ids_keep, ids_shuffle[:, len_keep:]], dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    mask = torch.ones(batch, num_units, device=device)
    mask[:, :len_keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return ids_keep, mask, ids_restore


def gather_tokens(x: Tensor, ids: Tensor) -> Tensor:
    """Select tokens along dim 1: x (B, N, *rest), ids (B, L) -> (B, L, *rest)."""
    index = ids.reshape(*ids.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, index)


def patchify(imgs: Tensor, patch_size: int) -> Tensor:
    """(B, C, H, W) -> (B, N, p*p*C), patches in raster order, pixels (p, p, C) inside."""
    b, c, h, w = imgs.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not a multiple of the patch size {p}")
    x = imgs.reshape(b, c, h // p, p, w // p, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: Tensor, patch_size: int, grid: tuple[int, int], channels: int = 3) -> Tensor:
    """Inverse of :func:`patchify`: (B, N, p*p*C) -> (B, C, gh*p, gw*p)."""
    b = x.shape[0]
    p = patch_size
    gh, gw = grid
    x = x.reshape(b, gh, gw, p, p, channels)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(b, channels, gh * p, gw * p)
