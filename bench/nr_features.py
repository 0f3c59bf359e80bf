"""Handcrafted no-reference quality features: the classical floor every learned row must beat.

Twelve per-image statistics that classical NR-IQA relies on, batched in torch (kornia for
the filters and colour spaces):

==================  =====================================================================
feature             definition
==================  =====================================================================
brightness          mean grey level
contrast            RMS contrast (std of grey)
sharpness           log variance of the Laplacian of grey, at full and half resolution
gradient            log mean Sobel gradient magnitude
colourfulness       Hasler & Suesstrunk (2003): std and mean of the rg / yb opponent axes
saturation          mean and std of HSV saturation
noise               Immerkaer (1996) fast noise sigma: a 3x3 second-difference mask
                    cancels image structure of degree < 2, its mean response is the noise
blockiness          mean |horizontal + vertical difference| on the 8-pixel JPEG grid over
                    the same off the grid (1 for no blocking, > 1 for block artefacts)
entropy             Shannon entropy (bits) of the 256-bin grey histogram
==================  =====================================================================

kornia has the filters but no such feature set (and no Immerkaer estimator); the few lines
of arithmetic on top of it are written here. Used through ``bench.backbones`` as the
``handcrafted`` backbone: a ridge linear probe on these features is the floor row.
"""

from __future__ import annotations

import math

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor, nn

FEATURE_NAMES = (
    "brightness",
    "contrast",
    "sharpness",
    "sharpness_half",
    "gradient",
    "colourfulness_std",
    "colourfulness_mean",
    "saturation_mean",
    "saturation_std",
    "noise_sigma",
    "blockiness",
    "entropy",
)

_IMMERKAER = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def _laplacian_log_var(grey: Tensor) -> Tensor:
    lap = kornia.filters.laplacian(grey, kernel_size=3)
    return torch.log(lap.flatten(1).var(dim=1) + 1e-8)


def noise_sigma(grey: Tensor) -> Tensor:
    """Immerkaer's noise standard deviation. ``(B, 1, H, W)`` in [0, 1] -> ``(B,)``."""
    h, w = grey.shape[-2:]
    response = F.conv2d(grey, _IMMERKAER.to(grey).view(1, 1, 3, 3))
    return math.sqrt(math.pi / 2) * response.abs().sum(dim=(1, 2, 3)) / (6 * (w - 2) * (h - 2))


def blockiness(grey: Tensor, block: int = 8) -> Tensor:
    """Mean absolute neighbour difference on the block grid over off the grid. -> ``(B,)``."""
    dx = (grey[..., :, 1:] - grey[..., :, :-1]).abs().mean(dim=(1, 2))  # (B, W-1)
    dy = (grey[..., 1:, :] - grey[..., :-1, :]).abs().mean(dim=(1, 3))  # (B, H-1)
    ratios = []
    for d in (dx, dy):
        on_grid = torch.zeros(d.shape[-1], dtype=torch.bool, device=d.device)
        on_grid[block - 1 :: block] = True
        ratios.append(d[:, on_grid].mean(dim=1) / (d[:, ~on_grid].mean(dim=1) + 1e-6))
    return (ratios[0] + ratios[1]) / 2


def grey_entropy(grey: Tensor, bins: int = 256) -> Tensor:
    """Shannon entropy in bits of the grey-level histogram. ``(B, 1, H, W)`` -> ``(B,)``."""
    index = (grey.flatten(1).clamp(0, 1) * (bins - 1)).round().long()
    counts = torch.zeros(grey.shape[0], bins, device=grey.device).scatter_add_(
        1, index, torch.ones_like(index, dtype=torch.float32)
    )
    p = counts / counts.sum(dim=1, keepdim=True)
    return -(p * torch.log2(p.clamp_min(1e-12))).sum(dim=1)


def nr_features(x: Tensor) -> Tensor:
    """Handcrafted NR features of a batch.

    Args:
        x: ``(B, 3, H, W)`` RGB in [0, 1], H and W at least 16.

    Returns:
        ``(B, 12)`` float32, columns in the order of :data:`FEATURE_NAMES`.
    """
    if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 16:
        raise ValueError(f"nr_features: expected (B, 3, H>=16, W>=16) RGB, got {tuple(x.shape)}")
    x = x.float()
    grey = kornia.color.rgb_to_grayscale(x)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    rg = (r - g).flatten(1)
    yb = (0.5 * (r + g) - b).flatten(1)
    saturation = kornia.color.rgb_to_hsv(x)[:, 1].flatten(1)
    gradient = kornia.filters.sobel(grey).flatten(1).mean(dim=1)
    columns = [
        grey.flatten(1).mean(dim=1),
        grey.flatten(1).std(dim=1),
        _laplacian_log_var(grey),
        _laplacian_log_var(F.avg_pool2d(grey, 2)),
        torch.log(gradient + 1e-8),
        torch.sqrt(rg.std(dim=1) ** 2 + yb.std(dim=1) ** 2),
        torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2),
        saturation.mean(dim=1),
        saturation.std(dim=1),
        noise_sigma(grey),
        blockiness(grey),
        grey_entropy(grey),
    ]
    return torch.stack(columns, dim=1)


class HandcraftedNR(nn.Module):
    """The features as a parameter-free "backbone": ``forward_features(x) -> (B, 12)``."""

    num_features = len(FEATURE_NAMES)

    def forward_features(self, x: Tensor) -> Tensor:
        return nr_features(x)

    def forward(self, x: Tensor) -> Tensor:
        return nr_features(x)
