"""Run an op on groups of samples that share a discrete setting (kernel size, codec quality).

Batched filters need one kernel size per call; choosing it from the batch maximum would make a
sample's result depend on its neighbours. Grouping keeps every sample's output a function of
its own parameters only (replay of any subset is exact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from degrade._checks import to_device


def grouped(x: Tensor, keys: Sequence[int], fn: Callable[[Tensor, Tensor, int], Tensor]) -> Tensor:
    """``fn(x[idx], idx, key)`` for each distinct key; results reassembled in batch order.

    Args:
        x: (B, ...) batch.
        keys: B hashable settings.
        fn: maps the sub-batch, its indices (a CPU LongTensor, for indexing per-sample values
            that live on the host: ops registered with ``host=True``) and the key to a
            sub-batch of the same shape.
    """
    uniq = sorted(set(keys))
    if len(uniq) == 1:
        return fn(x, torch.arange(x.shape[0]), uniq[0])
    groups = [torch.tensor([i for i, v in enumerate(keys) if v == k]) for k in uniq]
    # every group's indices go to the device in one copy
    on_device = to_device(torch.cat(groups), x.device).split([len(g) for g in groups])
    out = torch.empty_like(x)
    for k, idx, idx_d in zip(uniq, groups, on_device, strict=True):
        out[idx_d] = fn(x[idx_d], idx, k)
    return out
