"""Separable linear filters with per-sample kernels, ``y = M_h @ x @ M_w^T``.

Per-sample taps are zero-padded to the batch's longest kernel, so a batch runs in one call
without grouping by kernel size and each sample's result depends only on its own taps.
Filters go through kornia's ``filter2d_separable``; the same operator written as per-sample
(N, N) matrices with the borders folded in (``filter_matrix`` / ``separable``) serves kernels
longer than reflect padding allows and exact resize round trips on GPUs (one batched matrix
product instead of B interpolations).
"""

from __future__ import annotations

import functools
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch
import torch.nn.functional as F
from kornia.filters import filter2d_separable
from torch import Tensor

from degrade import _cv
from degrade._checks import gpu_path, to_like
from degrade._cpu_filters import per_image, separable_taps


def reflect_index(n: int, k: int, device: torch.device | str = "cpu") -> Tensor:
    """(n, k) source indices of a centred k-tap filter with reflect-101 borders (as OpenCV's
    ``BORDER_REFLECT_101`` and torch's ``reflect`` padding), valid for any k."""
    i = torch.arange(n, device=device)[:, None] + torch.arange(k, device=device)[None, :] - k // 2
    if n == 1:
        return torch.zeros_like(i)
    period = 2 * (n - 1)
    i = i.remainder(period)
    return torch.where(i >= n, period - i, i)


def filter_matrix(taps: Tensor, n: int) -> Tensor:
    """Per-sample 1-D filters (B, k) (k odd, centred) as (B, n, n) matrices, reflect borders."""
    b, k = taps.shape
    idx = reflect_index(n, k, taps.device).expand(b, n, k)
    m = torch.zeros(b, n, n, device=taps.device, dtype=taps.dtype)
    return m.scatter_add_(2, idx, taps[:, None, :].expand(b, n, k))


def separable(x: Tensor, mh: Tensor, mw: Tensor) -> Tensor:
    """Apply per-sample axis matrices: x (B, C, H, W), mh (B, H', H), mw (B, W', W)."""
    return torch.matmul(torch.matmul(mh[:, None], x), mw.transpose(-1, -2)[:, None])


def gaussian_taps(sigma: Tensor) -> Tensor:
    """(B, k) normalised Gaussian taps; sample i uses 2*ceil(3*sigma_i)+1 taps (zeros around
    them up to the batch's largest k, so no sample depends on another)."""
    radius = torch.ceil(3 * sigma).long().clamp_min(1)
    r = int(radius.max())
    t = torch.arange(-r, r + 1, device=sigma.device, dtype=sigma.dtype)
    taps = torch.exp(-0.5 * (t[None] / sigma[:, None]) ** 2)
    taps = taps * (t.abs()[None] <= radius[:, None])
    return taps / taps.sum(1, keepdim=True)


def blur_separable(x: Tensor, taps: Tensor) -> Tensor:
    """Per-sample separable filter ``taps`` (B, k) along H and W, reflect-101 borders.

    kornia's ``filter2d_separable`` (a grouped convolution) with the per-sample taps; on CPU,
    a tap loop per image (:func:`degrade._cpu_filters.separable_taps`, faster there);
    when the kernel is longer than the image allows for reflect padding, the matrix form.
    """
    h, w = x.shape[-2:]
    if taps.shape[1] // 2 >= min(h, w):
        return separable(x, filter_matrix(taps, h), filter_matrix(taps, w))
    if not gpu_path(x):
        return per_image(x, [_trim(t) for t in taps.tolist()], separable_taps)
    return filter2d_separable(x, taps.to(x.dtype), taps.to(x.dtype), border_type="reflect")


def _trim(taps: list[float]) -> list[float]:
    """Drop the zero taps a sample got from padding to the batch's longest kernel."""
    n = 0
    while 2 * n + 1 < len(taps) and taps[n] == 0.0 and taps[-1 - n] == 0.0:
        n += 1
    return taps[n : len(taps) - n]


def gaussian_blur_separable(x: Tensor, sigma: Tensor) -> Tensor:
    """Per-sample isotropic Gaussian blur (reflect-101 borders). x (B, C, H, W), sigma (B,).

    One call for the whole batch: on CUDA, taps zero-padded to the largest kernel cost less
    than a call per kernel size; on CPU each sample runs its own kernel length anyway.
    """
    sigma = sigma.to(x.dtype)
    if not gpu_path(x):
        radius = torch.ceil(3 * sigma).clamp_min(1).tolist()  # float32 rounding, as gaussian_taps
        if max(radius) < min(x.shape[-2:]) and _cv.usable(x):
            return _cv.gaussian_blur(x, sigma.tolist(), [int(r) for r in radius])
        if max(radius) < min(x.shape[-2:]):
            taps = [_gauss(s, int(r)) for s, r in zip(sigma.tolist(), radius, strict=True)]
            return per_image(x, taps, separable_taps)
    # taps are built where sigma is (the host, for ops registered with host=True) and copied
    return blur_separable(x, to_like(gaussian_taps(sigma), x))


def _gauss(sigma: float, radius: int) -> list[float]:
    """:func:`gaussian_taps` of one sample as Python floats (no tensor ops for 2r+1 numbers)."""
    w = [math.exp(-0.5 * (t / sigma) ** 2) for t in range(-radius, radius + 1)]
    total = sum(w)
    return [v / total for v in w]


@functools.lru_cache(maxsize=512)
def _resize_matrix(n_in: int, n_out: int, mode: str, device: str, dtype: torch.dtype) -> Tensor:
    """(n_out, n_in) matrix of a 1-D resize (what F.interpolate does along one axis)."""
    eye = torch.eye(n_in, device=device, dtype=dtype)[None, None]  # columns are unit impulses
    if mode in ("area", "nearest"):
        out = F.interpolate(eye, size=(n_out, n_in), mode=mode)
    else:
        aa = n_out < n_in
        out = F.interpolate(eye, size=(n_out, n_in), mode=mode, align_corners=False, antialias=aa)
    return out[0, 0]


def resize_matrix(n_in: int, n_out: int, mode: str, like: Tensor) -> Tensor:
    """Cached 1-D resize matrix on ``like``'s device and dtype."""
    return _resize_matrix(n_in, n_out, mode, str(like.device), like.dtype)


def up_mode(mode: str) -> str:
    """The mode a round trip comes back up with: ``area`` returns bilinearly."""
    return "bilinear" if mode == "area" else mode


def roundtrip_operator(n: int, m: int, mode: str, device: str, dtype: torch.dtype) -> Tensor:
    """(n, n) matrix of resizing n -> m -> n samples, from uncached 1-D resize matrices (its
    callers cache the result, not the ~1,800 1-D matrices of random scales)."""
    matrix = _resize_matrix.__wrapped__
    return matrix(m, n, up_mode(mode), device, dtype) @ matrix(n, m, mode, device, dtype)


class TensorLRU:
    """Least-recently-used tensors under a byte budget.

    ``functools.lru_cache`` bounds the number of entries, but an (n, n) operator's size grows
    with n^2; random scales of 224 px images need ~900 round trips (180 MB in float32), and a
    cache of 512 entries missed 44 % of them, rebuilding ~20 operators per batch of 64.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Tensor] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], Tensor]) -> Tensor:
        """The tensor under ``key``, made by ``make()`` (outside the lock) if absent."""
        with self._lock:
            t = self._items.get(key)
            if t is not None:
                self._items.move_to_end(key)
                return t
        t = make()
        with self._lock:
            if key not in self._items:
                self._items[key] = t
                self._bytes += t.nbytes
            while self._bytes > self.max_bytes and len(self._items) > 1:
                self._bytes -= self._items.popitem(last=False)[1].nbytes
        return t

    def __len__(self) -> int:
        return len(self._items)


#: device memory for cached round-trip operators (all of 224 px's random scales fit)
ROUNDTRIP_CACHE_BYTES = 256 * 2**20
_ROUNDTRIPS = TensorLRU(ROUNDTRIP_CACHE_BYTES)


def _roundtrip(n: int, m: int, mode: str, device: str, dtype: torch.dtype) -> Tensor:
    """Cached :func:`roundtrip_operator`."""
    return _ROUNDTRIPS.get(
        (n, m, mode, device, dtype), lambda: roundtrip_operator(n, m, mode, device, dtype)
    )


def resize_roundtrip(x: Tensor, sizes: list[tuple[int, int]], modes: list[str]) -> Tensor:
    """Resize sample i to ``sizes[i]`` with ``modes[i]`` and back to (H, W), as matrices."""
    h, w = x.shape[-2:]
    dev, dt = str(x.device), x.dtype
    pairs = list(zip(sizes, modes, strict=True))
    mh = torch.stack([_roundtrip(h, s[0], m, dev, dt) for s, m in pairs])
    mw = torch.stack([_roundtrip(w, s[1], m, dev, dt) for s, m in pairs])
    return separable(x, mh, mw)
