"""Run an op on groups of samples that share a discrete setting (kernel size, codec quality).

Batched filters need one kernel size per call; choosing it from the batch maximum would make a
sample's result depend on its neighbours. Grouping keeps every sample's output a function of
its own parameters only (replay of any subset is exact).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import torch
from torch import Tensor

from degrade._checks import to_device

K = TypeVar("K", int, str)


def index_groups(keys: Sequence[K]) -> list[tuple[K, list[int]]]:
    """The distinct keys (sorted) with the indices of the samples that have each."""
    groups: dict[K, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    return sorted(groups.items())


def runs(keys: Sequence[object]) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of each run of consecutive equal keys, in batch order: samples that
    share a setting and sit side by side run as one slice (no gather, no scatter).

    >>> list(runs([2, 2, 3, 2]))
    [(0, 2), (2, 3), (3, 4)]
    """
    i0 = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[i0]:
            yield i0, i
            i0 = i


def indices_on(groups: Sequence[Sequence[int]], device: torch.device) -> list[Tensor]:
    """Index lists as LongTensors on ``device``, copied there in one piece (not one each)."""
    flat = to_device(torch.tensor([i for g in groups for i in g]), device)
    return list(flat.split([len(g) for g in groups]))


def put_centred(out: Tensor, idx: Sequence[int], t: Tensor) -> None:
    """Write ``t`` (n, ...) into rows ``idx`` of ``out`` (B, ...), centred in each trailing
    dimension (``out`` is at least as large there; e.g. kernels into a larger zero kernel)."""
    lo = [(n - m) // 2 for n, m in zip(out.shape[1:], t.shape[1:], strict=True)]
    out[(list(idx), *(slice(a, a + m) for a, m in zip(lo, t.shape[1:], strict=True)))] = t


def grouped(x: Tensor, keys: Sequence[int], fn: Callable[[Tensor, Tensor, int], Tensor]) -> Tensor:
    """``fn(x[idx], idx, key)`` for each distinct key; results reassembled in batch order.

    Args:
        x: (B, ...) batch.
        keys: B hashable settings.
        fn: maps the sub-batch, its indices (a CPU LongTensor, for indexing per-sample values
            that live on the host: ops registered with ``host=True``) and the key to a
            sub-batch of the same shape.
    """
    groups = index_groups(keys)
    if len(groups) == 1:
        return fn(x, torch.arange(x.shape[0]), groups[0][0])
    on_device = indices_on([idx for _, idx in groups], x.device)
    out = torch.empty_like(x)
    for (k, idx), idx_d in zip(groups, on_device, strict=True):
        out[idx_d] = fn(x[idx_d], torch.tensor(idx), k)
    return out
