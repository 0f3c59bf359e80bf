"""CPU paths for the linear filters, one image at a time so that it stays in cache.

On CPU, kornia's grouped convolutions and ``F.interpolate`` on a single 224 px image are
several times slower than OpenCV (one thread). Three forms close most of that gap without
leaving torch:

* :func:`separable_taps` - a separable filter with the same taps at every pixel, as one
  shifted multiply-add per tap and axis over a reflect-padded image (Gaussian blur);
* :func:`banded_separable` - a separable linear map whose taps change along the axis (a
  resize round trip written as band matrices), one ``addcmul`` per diagonal;
* :func:`plateau_rows_filter2d` - a 2-D kernel symmetric about both axes whose rows are
  flat plateaus with a few edge taps (an anti-aliased disc: lens and defocus blur), as
  running box sums, one pass per box step, edge tap and row;
* :func:`fft_filter2d` - any other dense 2-D kernel by FFT, cheaper than a convolution from
  about 11 x 11 taps (motion, sinc blur); :func:`fft_filter_images` runs it over a batch with
  each kernel's spectrum built once, beside the OpenCV forms (whose ``filter2D`` transforms
  the kernel again for every plane).

All compute the same operator as the batched GPU forms in :mod:`degrade._linear`, to float
rounding. CUDA keeps those forms: there, one batched kernel beats B small ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from kornia.filters import filter2d
from torch import Tensor

from degrade._cv import mark_clamped

#: from this kernel size on, the FFT is cheaper than kornia's convolution on CPU
FFT_MIN_KSIZE = 11
#: up to this many passes, :func:`plateau_rows_filter2d` beats the FFT on CPU (the crossover
#: at 224 px; degrade/README.md gives the timing it comes from)
PLATEAU_MAX_PASSES = 45


def per_image(x: Tensor, args: Sequence[Any], fn: Callable[[Tensor, Any], Tensor]) -> Tensor:
    """``fn(x[i], args[i])`` for each image of ``x`` (B, C, H, W), stacked (no copy for B=1)."""
    if x.shape[0] == 1:
        return fn(x[0], args[0])[None]
    return torch.stack([fn(xi, a) for xi, a in zip(x, args, strict=True)])


def reflect_pad(x: Tensor, r: int) -> Tensor:
    """One image (C, H, W) padded by ``r`` on every side, reflect-101 (needs ``r < H, W``)."""
    return F.pad(x[None], (r, r, r, r), mode="reflect")[0]


def separable_taps(x: Tensor, taps: list[float]) -> Tensor:
    """Correlate one image with ``taps`` along H then W, reflect-101 borders.

    Args:
        x: (C, H, W) float image; needs ``len(taps) // 2 < min(H, W)``.
        taps: k (odd) filter taps, centred.

    Returns:
        (C, H, W) filtered image.
    """
    r = len(taps) // 2
    h, w = x.shape[-2:]
    p = reflect_pad(x, r)
    return _taps_pass(_taps_pass(p, taps, 1, h), taps, 2, w)


def _taps_pass(p: Tensor, taps: list[float], dim: int, n: int) -> Tensor:
    """``sum_i taps[i] * p.narrow(dim, i, n)``: one axis of :func:`separable_taps`."""
    r = len(taps) // 2
    # taps come in symmetric pairs for a Gaussian; summing the pair first halves the products
    sym = all(taps[i] == taps[-1 - i] for i in range(r))
    acc = p.narrow(dim, r, n) * taps[r]
    pair = torch.empty_like(acc) if sym and r else acc  # one scratch buffer, not one per pair
    for i in range(r):
        a, b = p.narrow(dim, i, n), p.narrow(dim, 2 * r - i, n)
        if sym:
            acc.add_(torch.add(a, b, out=pair), alpha=taps[i])
        else:
            acc.add_(a, alpha=taps[i])
            acc.add_(b, alpha=taps[-1 - i])
    return acc


def band_taps(m: Tensor) -> tuple[Tensor, int]:
    """A banded (n, n) matrix as per-row taps: (n, k) weights and the offset of column 0.

    Row i of the result holds ``m[i, i + lo : i + lo + k]`` (zero outside the matrix), so
    ``y[i] = sum_t taps[i, t] * x[i + lo + t]``.
    """
    n = m.shape[0]
    i, j = m.nonzero(as_tuple=True)
    d = j - i
    lo, hi = min(int(d.min()), 0), max(int(d.max()), 0)
    taps = torch.zeros(n, hi - lo + 1, dtype=m.dtype, device=m.device)
    taps[i, d - lo] = m[i, j]
    return taps, lo


def banded_separable(x: Tensor, th: Tensor, lo_h: int, tw: Tensor, lo_w: int) -> Tensor:
    """``Mh @ x @ Mw^T`` for one image, with both band matrices given as :func:`band_taps`.

    Args:
        x: (C, H, W) image; th: (H, kh) taps of Mh; tw: (W, kw) taps of Mw.

    Returns:
        (C, H, W).
    """
    rows = _band_pass(F.pad(x, (0, 0, -lo_h, th.shape[1] - 1 + lo_h)), th, 1)
    return _band_pass(F.pad(rows, (-lo_w, tw.shape[1] - 1 + lo_w)), tw, 2)


def _band_pass(p: Tensor, taps: Tensor, dim: int) -> Tensor:
    """``y[i] = sum_t taps[i, t] * p[i + t]`` along ``dim`` of a zero-padded image (the pad
    rows meet zero taps); one axis of :func:`banded_separable`."""
    n, k = taps.shape
    shape = (n, 1) if dim == 1 else (n,)  # per-row weights broadcast along the other axis
    cols = taps.t().contiguous()
    acc = p.narrow(dim, 0, n) * cols[0].view(shape)
    for t in range(1, k):
        acc.addcmul_(p.narrow(dim, t, n), cols[t].view(shape))
    return acc


@functools.lru_cache(maxsize=4096)
def roundtrip_taps(n: int, m: int, mode: str, dtype: torch.dtype) -> tuple[Tensor, int]:
    """Band taps of the n -> m -> n resize round trip (:func:`degrade._linear._roundtrip`).

    Only the band is cached (a few kB; random scales of 224 px images need ~900 entries):
    the dense (n, n) operators it comes from are built uncached.
    """
    from degrade._linear import roundtrip_operator

    return band_taps(roundtrip_operator(n, m, mode, "cpu", dtype))


def resize_roundtrip_image(x: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Resize one image (C, H, W) to ``size`` with ``mode`` and back, on CPU.

    The round trip is one band matrix per axis; it runs as a tap loop while the band is
    narrow, else as the two resizes' matrices in turn (cost falls with the scale).
    """
    from degrade._linear import resize_matrix, up_mode

    h, w = x.shape[-2:]
    th, lo_h = roundtrip_taps(h, size[0], mode, x.dtype)
    tw, lo_w = roundtrip_taps(w, size[1], mode, x.dtype)
    # a cost model calibrated at 224 px (degrade/README.md): one band tap costs 0.1 units, the
    # matrices 3.5 units times the scale
    if th.shape[1] * 0.1 <= 3.5 * size[0] / h + 0.2:
        return banded_separable(x, th, lo_h, tw, lo_w)
    back = up_mode(mode)
    dh, dw = resize_matrix(h, size[0], mode, x), resize_matrix(w, size[1], mode, x)
    uh, uw = resize_matrix(size[0], h, back, x), resize_matrix(size[1], w, back, x)
    return uh @ ((dh @ x) @ dw.t()) @ uw.t()


#: a row of a doubly symmetric kernel: (dy, plateau value, plateau half-width, edge taps
#: as (dx, weight) beyond the plateau); see :func:`plateau_rows`
Row = tuple[int, float, int, tuple[tuple[int, float], ...]]


def plateau_rows(kernel: Tensor) -> list[Row] | None:
    """The rows ``dy = 0..r`` of a (k, k) kernel symmetric about both axes, each as a plateau
    ``|dx| <= a`` of one value plus edge taps; None if the kernel is not doubly symmetric.

    A disc of radius R has rows with a plateau and one or two anti-aliased taps per side.
    """
    k = kernel.shape[-1]
    if kernel.shape[-2] != k or k % 2 == 0:
        return None
    if not (torch.equal(kernel, kernel.flip(0)) and torch.equal(kernel, kernel.flip(1))):
        return None
    r = k // 2
    rows = []
    for dy, row in enumerate(kernel[r:, r:].tolist()):  # taps for dx = 0..r
        if not any(row):
            continue
        a = 0
        while a < r and row[a + 1] == row[0]:
            a += 1
        edges = tuple((dx, v) for dx, v in enumerate(row) if dx > a and v != 0.0)
        rows.append((dy, row[0], a, edges))
    return rows


def plateau_passes(rows: list[Row]) -> int:
    """Whole-image passes :func:`plateau_rows_filter2d` makes for ``rows`` (its cost)."""
    widest = max(a for _, _, a, _ in rows)
    return 2 * widest + sum(1 + 2 * len(e) + 2 for *_, e in rows)


def plateau_rows_filter2d(x: Tensor, kernel: Tensor, rows: list[Row]) -> Tensor:
    """Correlate one image with a doubly symmetric kernel given as :func:`plateau_rows`,
    reflect-101 borders. Equal to the direct correlation to float rounding.

    Each row is ``v * box_a`` plus its edge taps, over the horizontally padded image, where
    ``box_a`` sums the columns ``|dx| <= a`` and grows in place from row to row (rows taken
    from the narrowest plateau out); rows ``+dy`` and ``-dy`` are the same, shifted. Nothing
    is cached per column: at 224 px, more live buffers cost more than the passes they save.

    Args:
        x: (C, H, W); kernel: (k, k) with ``k // 2 < min(H, W)``; rows: its plateau rows.

    Returns:
        (C, H, W).
    """
    r = kernel.shape[-1] // 2
    h, w = x.shape[-2:]
    p = reflect_pad(x, r)
    box, width = p.narrow(2, r, w).clone(), 0
    out, row = torch.zeros_like(x), torch.empty_like(box)
    for dy, v, a, edges in sorted(rows, key=lambda spec: spec[2]):
        for d in range(width + 1, a + 1):
            box.add_(p.narrow(2, r + d, w)).add_(p.narrow(2, r - d, w))
        width = a
        torch.mul(box, v, out=row)
        for dx, wt in edges:
            row.add_(p.narrow(2, r + dx, w), alpha=wt).add_(p.narrow(2, r - dx, w), alpha=wt)
        out.add_(row.narrow(1, r + dy, h))
        if dy:
            out.add_(row.narrow(1, r - dy, h))
    return out


def filter2d_image(x: Tensor, kernel: Tensor) -> Tensor:
    """Correlate one image (C, H, W) with a (k, k) kernel on CPU, reflect-101 borders, by the
    cheapest of :func:`plateau_rows_filter2d`, :func:`fft_filter2d` and kornia's ``filter2d``
    (all the same operator to float rounding)."""
    rows = plateau_rows(kernel)
    if rows is not None and plateau_passes(rows) <= PLATEAU_MAX_PASSES:
        return plateau_rows_filter2d(x, kernel, rows)
    if kernel.shape[-1] >= FFT_MIN_KSIZE:
        return fft_filter2d(x, kernel)
    return filter2d(x[None], kernel[None], border_type="reflect")[0]


def fft_filter2d(x: Tensor, kernel: Tensor) -> Tensor:
    """Correlate one image with a 2-D kernel by FFT, reflect-101 borders.

    Args:
        x: (C, H, W); kernel: (k, k), k odd and ``k // 2 < min(H, W)``.

    Returns:
        (C, H, W).
    """
    r = kernel.shape[-1] // 2
    s = fft_shape(x, r)
    return _fft_correlate(x, torch.fft.rfft2(kernel.flip(-1, -2), s=s), r, s)


def fft_shape(x: Tensor, r: int) -> tuple[int, int]:
    """The FFT size for ``x`` (..., H, W) reflect-padded by ``r``: 5-smooth sizes (zeros
    beyond the padded image) transform faster than e.g. 234 = 2 3^2 13; the circular wrap
    only reaches the first 2r outputs, which are cut off anyway."""
    h, w = x.shape[-2:]
    return fast_len(h + 2 * r), fast_len(w + 2 * r)


def _fft_correlate(x: Tensor, spectrum: Tensor, r: int, s: tuple[int, int]) -> Tensor:
    """Correlate ``x`` (C, H, W) with the kernel of radius ``r`` whose flipped copy's rfft2
    at size ``s`` is ``spectrum`` (correlation = convolution with the flipped kernel); the
    valid part starts at 2r."""
    h, w = x.shape[-2:]
    y = torch.fft.irfft2(torch.fft.rfft2(reflect_pad(x, r), s=s) * spectrum, s=s)
    return y[:, 2 * r : 2 * r + h, 2 * r : 2 * r + w]


def fft_filter_images(x: Tensor, kernels: Sequence[Tensor]) -> Tensor:
    """:func:`fft_filter2d` of image i with ``kernels[i]``, an op's final result: float32
    clamped to [0, 1] (and marked so), uint8 rounded and saturated (the filter in float32).

    Args:
        x: (B, C, H, W) uint8 or float32; kernels: B (k_i, k_i) float32 kernels on the
            host, k_i odd and ``k_i // 2 < min(H, W)``; each distinct one is transformed once.

    Returns:
        (B, C, H, W) of ``x``'s dtype.
    """
    out = torch.empty_like(x)
    top = 255.0 if x.dtype == torch.uint8 else 1.0
    for i, kernel in enumerate(kernels):
        r = kernel.shape[-1] // 2
        s = fft_shape(x, r)
        fk = _spectrum(kernel.numpy().tobytes(), kernel.shape[-1], s)
        y = _fft_correlate(x[i].float(), fk, r, s)
        if x.dtype == torch.uint8:
            out[i] = y.clamp_(0.0, top).round_()
        else:
            torch.clamp(y, 0.0, top, out=out[i])
    return out if x.dtype == torch.uint8 else mark_clamped(out)


#: kernel spectra kept: levels repeat, values drawn from a range do not (a 224 px image's
#: spectrum holds 240 x 121 complex values, ~230 KB)
SPECTRA_CACHED = 32


@functools.lru_cache(maxsize=SPECTRA_CACHED)
def _spectrum(kernel: bytes, k: int, s: tuple[int, int]) -> Tensor:
    """The rfft2 at size ``s`` of a (k, k) float32 kernel (given as its bytes: the cache key)
    flipped, as :func:`fft_filter2d` multiplies it."""
    taps = torch.frombuffer(bytearray(kernel), dtype=torch.float32).view(k, k)
    return torch.fft.rfft2(taps.flip(-1, -2), s=s)


@functools.lru_cache(maxsize=1024)
def fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (sizes the FFT handles fastest)."""
    m = n
    while True:
        k = m
        for f in (2, 3, 5):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 1
