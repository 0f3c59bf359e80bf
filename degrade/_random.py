"""Per-sample seeded randomness.

Stochastic ops (noise, jitter, patches, weather) take one integer seed per sample and draw
from a generator seeded with it, so a sample's output depends only on its own image and
parameters: replaying the recorded seeds reproduces it, whatever batch it is in.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor


def generators(seeds: Tensor, device: torch.device | str) -> Iterator[torch.Generator]:
    """A generator on ``device`` seeded with each of ``seeds`` (B,) int64 in turn.

    It is one generator object per thread and device, reseeded before each yield: use each
    draw before asking for the next (loops and comprehensions do). Making a generator per
    sample cost more than its draw for the small tensors most ops take. A CUDA kernel reads
    the generator's seed and offset when it is launched, so reseeding after it is safe.
    """
    g = _reusable_generator(torch.device(device))
    for s in seeds.tolist():
        g.manual_seed(int(s))
        yield g


_local = threading.local()


def _reusable_generator(device: torch.device) -> torch.Generator:
    cache: dict[torch.device, torch.Generator] = _local.__dict__.setdefault("generators", {})
    if device not in cache:
        cache[device] = torch.Generator(device=device)
    return cache[device]


def _draw_dtype(like: Tensor) -> torch.dtype:
    """float64 batches draw float32 noise, cast: a draw's values depend on its dtype, and a
    sample's output must not (float64 = float32 to rounding, replay across dtypes)."""
    return torch.float32 if like.dtype == torch.float64 else like.dtype


def seeded_normal(shape: Sequence[int], seeds: Tensor, like: Tensor) -> Tensor:
    """Standard normal noise of shape (B, *shape), sample i drawn from ``seeds[i]``."""
    out = torch.empty((len(seeds), *shape), device=like.device, dtype=_draw_dtype(like))
    for o, g in zip(out, generators(seeds, like.device), strict=True):
        o.normal_(generator=g)
    return out.to(like.dtype)


def seeded_uniform(shape: Sequence[int], seeds: Tensor, like: Tensor) -> Tensor:
    """Uniform [0, 1) noise of shape (B, *shape), sample i drawn from ``seeds[i]``."""
    out = torch.empty((len(seeds), *shape), device=like.device, dtype=_draw_dtype(like))
    for o, g in zip(out, generators(seeds, like.device), strict=True):
        o.uniform_(generator=g)
    return out.to(like.dtype)


def bcast(v: Tensor) -> Tensor:
    """(B,) per-sample values to (B, 1, 1, 1) for broadcasting against images."""
    return v.view(-1, 1, 1, 1)
