"""Per-sample seeded randomness.

Stochastic ops (noise, jitter, patches, weather) take one integer seed per sample and draw
from a generator seeded with it, so a sample's output depends only on its own image and
parameters: replaying the recorded seeds reproduces it, whatever batch it is in.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def generators(seeds: Tensor, device: torch.device | str) -> list[torch.Generator]:
    """One generator per seed, on ``device``. seeds: (B,) int64."""
    out = []
    for s in seeds.tolist():
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        out.append(g)
    return out


def seeded_normal(shape: Sequence[int], seeds: Tensor, like: Tensor) -> Tensor:
    """Standard normal noise of shape (B, *shape), sample i drawn from ``seeds[i]``."""
    out = torch.empty((len(seeds), *shape), device=like.device, dtype=like.dtype)
    for o, g in zip(out, generators(seeds, like.device), strict=True):
        o.normal_(generator=g)
    return out


def seeded_uniform(shape: Sequence[int], seeds: Tensor, like: Tensor) -> Tensor:
    """Uniform [0, 1) noise of shape (B, *shape), sample i drawn from ``seeds[i]``."""
    out = torch.empty((len(seeds), *shape), device=like.device, dtype=like.dtype)
    for o, g in zip(out, generators(seeds, like.device), strict=True):
        o.uniform_(generator=g)
    return out


def bcast(v: Tensor) -> Tensor:
    """(B,) per-sample values to (B, 1, 1, 1) for broadcasting against images."""
    return v.view(-1, 1, 1, 1)
