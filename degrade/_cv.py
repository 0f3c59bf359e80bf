"""OpenCV forms of the CPU ops, run on the planes of a (B, C, H, W) batch.

On one CPU thread OpenCV's SIMD kernels (separable Gaussian, ``filter2D`` with its own DFT
for large kernels, area resizes, warps, LUTs, libjpeg) beat any sequence of eager torch ops
on a 224 px image. Each image plane (H, W) of a contiguous NCHW tensor is already a
contiguous 2-D array, so OpenCV reads it and writes its result straight into the output
tensor's plane: no layout change, no copy. The same functions take uint8 and float32 batches
(uint8 planes are mostly filtered in float32 and rounded once, see :func:`per_plane`), so
they back both the float ops and their uint8 forms (:func:`degrade.registry.uint8_form`).
They compute the operators of the GPU forms (reflect-101 borders, the same kernels and
sampling grids) to float rounding for float32, and to one grey level for uint8.

OpenCV is imported lazily and optional: without it every op keeps its torch CPU form.
stringzilla (a dependency of qpt; albumentations depends on it too) maps uint8 bytes through
256-entry tables faster than OpenCV (:func:`contrast_map`); without it, or with a release
before 5.3, OpenCV does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from degrade._batch import runs
from degrade._checks import gpu_path

REFLECT = 4  # cv2.BORDER_REFLECT_101, the border of degrade's filters (KADID's, OpenCV's)
REPLICATE = 1  # cv2.BORDER_REPLICATE, ImageNet-C's motion trail's
_DEPTH = {"uint8": 0, "float32": 5}  # cv2.CV_8U, cv2.CV_32F


@functools.cache
def cv2_module() -> Any:
    """The ``cv2`` module, or None when OpenCV is not installed."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def usable(x: Tensor) -> bool:
    """Whether ``x`` takes the OpenCV forms: a CPU uint8 or float32 batch without autograd."""
    return (
        not gpu_path(x)
        and x.dtype in (torch.uint8, torch.float32)
        and not x.requires_grad
        and cv2_module() is not None
    )


def per_plane(
    x: Tensor,
    args: Sequence[Any],
    fn: Callable[[np.ndarray, np.ndarray, Any], None],
    via_float: bool = True,
    clamp: bool = False,
) -> Tensor:
    """``fn(src, dst, args[i])`` for every plane ``x[i, c]`` (H, W), writing into a new
    (B, C, H, W) tensor of ``x``'s dtype.

    With ``via_float``, uint8 planes reach ``fn`` as float32 (0..255) and its float32 result
    is rounded into the uint8 output (it must be >= 0): OpenCV's single-channel uint8 paths
    of the Gaussian and ``filter2D`` are slower than conversion, float32 filter and rounding,
    which also round only once. With ``clamp`` (an op's final result),
    float32 results are clamped to [0, 1] image by image, while in cache, and the output is
    marked (:func:`is_clamped`) so that the functional form skips its clamp pass over the
    whole batch.
    """
    cv2 = cv2_module()
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys = x.numpy(), out.numpy()
    convert = via_float and x.dtype == torch.uint8
    scratch = np.empty(x.shape[-2:], np.float32) if convert else None
    clamp = clamp and x.dtype == torch.float32
    for i, a in enumerate(args):
        for c in range(x.shape[1]):
            if convert:
                fn(xs[i, c].astype(np.float32), scratch, a)
                cv2.convertScaleAbs(scratch, dst=ys[i, c])  # rounds and saturates
            else:
                fn(xs[i, c], ys[i, c], a)
        if clamp:  # torch's clamp: one pass over the image, cheaper than NumPy's per plane
            out[i].clamp_(0.0, 1.0)
    return mark_clamped(out) if clamp else out


def clamp01(plane: np.ndarray) -> None:
    """Clamp a float32 plane to [0, 1] in place (NumPy's clip: one pass, cheaper than
    OpenCV's threshold and max)."""
    np.clip(plane, 0.0, 1.0, out=plane)


def mark_clamped(t: Tensor) -> Tensor:
    """Mark ``t`` as already clamped to [0, 1] (an attribute: any op on it makes a new,
    unmarked tensor)."""
    t._degrade_clamped = True  # type: ignore[attr-defined]
    return t


def is_clamped(t: Tensor) -> bool:
    """Whether ``t`` came marked from :func:`mark_clamped`."""
    return getattr(t, "_degrade_clamped", False)


@functools.lru_cache(maxsize=256)
def gaussian_taps(sigma: float, radius: int) -> np.ndarray:
    """The ``2 radius + 1`` float32 taps of ``cv2.GaussianBlur`` at ``sigma`` (k, 1)."""
    return cv2_module().getGaussianKernel(2 * radius + 1, sigma, ktype=_DEPTH["float32"])


def gaussian_blur(
    x: Tensor, sigma: Sequence[float], radius: Sequence[int], clamp: bool = False
) -> Tensor:
    """Per-sample Gaussian blur, ``2 radius + 1`` taps, reflect-101: ``cv2.GaussianBlur``'s
    float32 taps through ``sepFilter2D`` (no per-call kernel build), straight on uint8
    planes too (float32 rows, rounded once: the float form's result, rounded).

    x: (B, C, H, W) uint8, or float32 with values >= 0. With ``clamp``, a float32 result
    is in [0, 1] without a clamp pass: for values in [0, 1], :func:`unit_gaussian_taps`
    cannot give more than 1, and taps and values >= 0 nothing below 0.
    """
    cv2 = cv2_module()
    unit = clamp and x.dtype == torch.float32

    def run(src: np.ndarray, dst: np.ndarray, k: np.ndarray) -> None:
        cv2.sepFilter2D(src, -1, k, k, dst=dst, borderType=REFLECT)

    taps_of = unit_gaussian_taps if unit else gaussian_taps
    taps = [taps_of(s, r) for s, r in zip(sigma, radius, strict=True)]
    out = per_plane(x, taps, run, via_float=False)
    return mark_clamped(out) if unit else out


@functools.lru_cache(maxsize=256)
def unit_gaussian_taps(sigma: float, radius: int) -> np.ndarray:
    """:func:`gaussian_taps` scaled down by a few float32 roundings (a relative 2e-6 at
    most), so that a float32 filter pass over values in [0, 1] cannot round above 1.

    Each output of a pass is a sum of n = 2 radius + 1 products of taps and values, all >= 0:
    however it is ordered, its n products and n - 1 sums round up by at most a factor
    ``(1 + 2^-24)`` each, which taps summing (exactly) to at most ``1 / (1 + 2^-24)^(n+1)``
    absorb. (k, 1) float32.
    """
    k = gaussian_taps(sigma, radius).astype(np.float64)
    bound = (1 + 2.0**-24) ** (k.size + 1)
    # one more rounding per tap for the cast back to float32
    taps = (k / (k.sum() * bound * (1 + 2.0**-24))).astype(np.float32)
    assert taps.astype(np.float64).sum() * bound <= 1.0  # float64 sums them far below the margin
    return taps


def blur_radius(sigma: Tensor) -> list[int]:
    """Tap radius of a Gaussian of each ``sigma`` (B,): ``ceil(3 sigma)``, at least 1, from
    the float32 product as :func:`degrade._linear.gaussian_taps` computes it."""
    return [int(r) for r in torch.ceil(3 * sigma.float()).clamp_min(1).tolist()]


def unsharp(x: Tensor, sigma: Sequence[float], radius: Sequence[int], amount: Sequence[float]):
    """``x + amount (x - blur(x))`` per sample, rounded and saturated for uint8 (the blur
    stays in float32: the amount would multiply its rounding), clamped for float32.

    x: (B, C, H, W) uint8 or float32; sigma, radius, amount: B values.
    """
    cv2 = cv2_module()
    to8 = x.dtype == torch.uint8
    scratch = np.empty(x.shape[-2:], np.float32) if to8 else None

    depth = _DEPTH["uint8" if to8 else "float32"]  # NumPy's dtype.name is slow per plane

    def run(src: np.ndarray, dst: np.ndarray, a: tuple[np.ndarray, float]) -> None:
        k, w = a
        src = src.astype(np.float32) if to8 else src
        blur = scratch if to8 else dst  # float32: blurred into the output, combined in place
        cv2.sepFilter2D(src, -1, k, k, dst=blur, borderType=REFLECT)
        # the result can be negative: addWeighted saturates it to 0 itself for uint8
        cv2.addWeighted(src, 1 + w, blur, -w, 0.0, dst=dst, dtype=depth)

    # amount -1 is a blur (the joint form's blur samples): the taps of the float Gaussian
    # blur op, for its result exactly
    unit = not to8
    args = [
        ((unit_gaussian_taps if unit and w == -1 else gaussian_taps)(s, r), w)
        for s, r, w in zip(sigma, radius, amount, strict=True)
    ]
    return per_plane(x, args, run, via_float=False, clamp=True)


def remap_nearest(x: Tensor, offsets: Tensor) -> Tensor:
    """Each pixel p of sample i taken from the input pixel nearest to p + offsets[i, :, p]
    (``cv2.remap``, nearest: rounded half to even), reflect-101 outside the image.

    x: (B, C, H, W) uint8 or float32; offsets: (B, 2, H, W) float32, x then y. The maps of
    an image are built once and serve its planes.
    """
    cv2 = cv2_module()
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys, off = x.numpy(), out.numpy(), offsets.numpy()
    h, w = x.shape[-2:]
    gy, gx = np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)
    for i in range(x.shape[0]):
        mx, my = gx + off[i, 0], gy + off[i, 1]
        for src, dst in zip(xs[i], ys[i], strict=True):
            cv2.remap(src, mx, my, cv2.INTER_NEAREST, dst=dst, borderMode=REFLECT)
    return mark_clamped(out) if x.dtype == torch.float32 else out  # input values, moved


#: a kernel cut to its non-zero taps, and the anchor of its centre (see :func:`support`)
Support = tuple[np.ndarray, tuple[int, int]]


def support(kernel: Tensor) -> Support:
    """A (k, k) kernel cut to the bounding box of its non-zero taps, as float32, and the
    position of its centre in the cut (OpenCV's ``anchor``, x first).

    A motion blur's segment fills a few rows of its square: OpenCV's direct filter costs per
    tap and its DFT (from 130 taps on) more, so the zeros are worth cutting away.
    """
    k = kernel.float().numpy()
    rows, cols = np.nonzero(k)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    c = k.shape[0] // 2
    return np.ascontiguousarray(k[r0:r1, c0:c1]), (int(c - c0), int(c - r0))


def filter2d(
    x: Tensor, kernels: Sequence[Tensor | Support], clamp: bool = False, border: int = REFLECT
) -> Tensor:
    """Correlate sample i with ``kernels[i]`` (k_i, k_i), or its :func:`support`,
    (``cv2.filter2D``, which switches to a DFT for large kernels); reflect-101 borders, or
    ``border`` (:data:`REPLICATE`)."""
    cv2 = cv2_module()
    ks = [k if isinstance(k, tuple) else support(k) for k in kernels]

    def run(src: np.ndarray, dst: np.ndarray, k: tuple[np.ndarray, tuple[int, int]]) -> None:
        cv2.filter2D(src, -1, k[0], dst=dst, anchor=k[1], borderType=border)

    return per_plane(x, ks, run, clamp=clamp)


def filter2d_then_blur(x: Tensor, kernels: Sequence[Tensor | Support], sigma: float) -> Tensor:
    """:func:`filter2d`, then a Gaussian blur of ``sigma`` (rounded once for uint8); an
    op's final result (clamped). uint8 inputs need non-negative kernels."""
    cv2 = cv2_module()
    ks = [k if isinstance(k, tuple) else support(k) for k in kernels]
    g = gaussian_taps(sigma, blur_radius(torch.tensor([sigma]))[0])

    def run(src: np.ndarray, dst: np.ndarray, k: tuple[np.ndarray, tuple[int, int]]) -> None:
        mid = cv2.filter2D(src, -1, k[0], anchor=k[1], borderType=REFLECT)
        cv2.sepFilter2D(mid, -1, g, g, dst=dst, borderType=REFLECT)

    return per_plane(x, ks, run, clamp=True)


#: integer types whose values hold a uint8 byte ``f`` times, by ``f``, and the multiplier that
#: spreads a byte over them (nearest upsampling of uint8 rows as one multiply)
_SPREAD = {2: (np.uint16, 0x0101), 4: (np.uint32, 0x01010101), 8: (np.uint64, 0x0101010101010101)}


def pixelate(x: Tensor, factor: Sequence[int]) -> Tensor:
    """Box average down by ``factor`` (which divides H and W) and nearest back up.

    Consecutive samples with the same factor run as one tall (n C H, W) image: no box
    straddles two planes, as ``factor`` divides H. OpenCV's uint8 box average is exact
    (integer sums, rounded once); float results are clamped on the small image.
    """
    cv2 = cv2_module()
    x = x.contiguous()
    out = torch.empty_like(x)
    w = x.shape[-1]
    xs, ys = x.numpy(), out.numpy()
    to8 = x.dtype == torch.uint8
    for i0, i in runs(factor):
        f, src, dst = factor[i0], xs[i0:i].reshape(-1, w), ys[i0:i].reshape(-1, w)
        small = cv2.resize(src, (w // f, src.shape[0] // f), interpolation=cv2.INTER_AREA)
        if not to8:
            clamp01(small)
        if to8 and f in _SPREAD:
            kind, spread = _SPREAD[f]
            wide = small.astype(kind) * kind(spread)  # each byte f times, in one value
            dst.view(kind).reshape(small.shape[0], f, -1)[...] = wide[:, None]
        else:
            cv2.resize(small, (w, dst.shape[0]), dst=dst, interpolation=cv2.INTER_NEAREST)
    return out if to8 else mark_clamped(out)


#: image planes a zoom-blur resize takes at once: OpenCV's linear resize of 4 interleaved
#: channels costs less per plane than of 3 or 1
ZOOM_PLANES = 4


def zoom_blur(x: Tensor, crops: Sequence[tuple[Sequence[tuple[int, ...]], int]]) -> Tensor:
    """ImageNet-C zoom blur of each image: the mean of the image, counted once more for each
    zoom that leaves it as it is, and ``cv2.resize`` (bilinear) of its zooms' crops, cut to
    H x W. ``crops[i]`` is sample i's ``(crops, number of zooms)`` as
    :func:`degrade.ops.blur.zoom_crops` returns them.

    Consecutive samples with the same zooms run as one stack of planes, ``ZOOM_PLANES`` at a
    time interleaved as (H, W, 4) (:func:`_zoom_planes`). x: (B, C, H, W) uint8 or float32.
    """
    x = x.contiguous()
    out = torch.empty_like(x)
    b, c, h, w = x.shape
    xs, ys = x.numpy().reshape(b * c, h * w), out.numpy().reshape(b * c, h * w)
    oh = max((z[4] for cs, _ in crops for z in cs), default=h)
    ow = max((z[5] for cs, _ in crops for z in cs), default=w)
    buffers: dict[int, tuple[np.ndarray, ...]] = {}
    for i0, i in runs(crops):
        for p in range(i0 * c, i * c, ZOOM_PLANES):
            q = min(p + ZOOM_PLANES, i * c)
            if q - p not in buffers:
                buffers[q - p] = _zoom_buffers(q - p, (h, w), (oh, ow), xs.dtype)
            _zoom_planes(xs[p:q], ys[p:q], *crops[i0], buffers[q - p])
    return out if xs.dtype == np.uint8 else mark_clamped(out)


def _zoom_buffers(
    g: int, size: tuple[int, int], zoomed: tuple[int, int], dtype: np.dtype
) -> tuple[np.ndarray, ...]:
    """Buffers of :func:`_zoom_planes` for ``g`` planes of ``size`` (H, W) and zooms up to
    ``zoomed``: the planes interleaved (H W, g) in ``dtype``; as float32 (H, W[, g]); one
    zoom; the sum; the result in ``dtype``. Reused from group to group, they stay in cache."""
    h, w = size
    shape = (h, w) if g == 1 else (h, w, g)
    hwc, acc = np.empty((h * w, g), dtype), np.empty(shape, np.float32)
    to8 = dtype == np.uint8
    src = np.empty(shape, np.float32) if to8 else hwc.reshape(shape)
    res = np.empty(shape, np.uint8) if to8 else acc
    return hwc, src, np.empty((*zoomed, *shape[2:]), np.float32), acc, res


def _zoom_planes(
    xs: np.ndarray,
    ys: np.ndarray,
    crops: Sequence[tuple[int, ...]],
    n: int,
    buffers: tuple[np.ndarray, ...],
) -> None:
    """Zoom blur of g planes ``xs`` (g, H W) into ``ys``, all with the same zooms: transposed
    to (H, W, g) once, resized and summed in float32 (uint8 rounded once), transposed back."""
    cv2 = cv2_module()
    hwc, src, zoomed, acc, res = buffers
    cv2.transpose(xs, dst=hwc)
    if res is not acc:  # uint8: resized as float32
        src[...] = hwc.reshape(src.shape)
    _zoom_sum(src, crops, n, zoomed, acc)
    if res is acc:
        clamp01(acc)
    else:
        cv2.convertScaleAbs(acc, dst=res)  # rounds and saturates
    cv2.transpose(res.reshape(hwc.shape), dst=ys)


def _zoom_sum(
    src: np.ndarray, crops: Sequence[tuple[int, ...]], n: int, zoomed: np.ndarray, acc: np.ndarray
) -> None:
    """``acc = (src (1 + n - len(crops)) + sum of the crops resized) / (n + 1)``, all
    (H, W[, C]) float32; ``zoomed`` is a buffer at least as large as any crop's resize."""
    cv2 = cv2_module()
    h, w = src.shape[:2]
    s, k = 1 / (n + 1), 1 + n - len(crops)
    if not crops:
        np.multiply(src, np.float32(k * s), out=acc)
    for j, (top, left, ch, cw, oh, ow) in enumerate(crops):
        z = cv2.resize(
            src[top : top + ch, left : left + cw],
            (ow, oh),
            dst=zoomed[:oh, :ow],
            interpolation=cv2.INTER_LINEAR,
        )[:h, :w]
        if j == 0:  # the first zoom starts the sum: one pass fewer
            cv2.addWeighted(src, k * s, z, s, 0.0, dst=acc)
        else:
            cv2.scaleAdd(z, s, acc, dst=acc)


#: the float32 value of each 8-bit level, level / 255 (what dividing the level gives)
LEVELS = np.arange(256, dtype=np.float32) / np.float32(255)


def jpeg(x: Tensor, quality: Sequence[int]) -> Tensor:
    """JPEG encode and decode each image at its quality with OpenCV's libjpeg (the files
    torchvision's encoder writes: same tables, 4:2:0).

    x: (B, C, H, W), C in {1, 3}, uint8 or float32 in [0, 1] (rounded to 8 bits first, as
    any JPEG file is; the decoded levels come back / 255). A float batch is converted to and
    from 8 bits in one call each, as one tall (B C H, W) image (per-plane calls cost more
    than the conversions), around the uint8 round trip of :func:`jpeg_u8`.
    """
    x = x.contiguous()
    if x.dtype == torch.uint8:
        return jpeg_u8(x, quality)
    cv2 = cv2_module()
    w = x.shape[-1]
    rows = cv2.convertScaleAbs(x.numpy().reshape(-1, w), alpha=255.0)  # rounds
    dec = jpeg_u8(torch.from_numpy(rows).view(x.shape), quality)
    out = torch.empty_like(x)
    cv2.LUT(dec.numpy().reshape(-1, w), LEVELS, dst=out.numpy().reshape(-1, w))
    return mark_clamped(out)  # decoded levels / 255 lie in [0, 1]


def jpeg_u8(x: Tensor, quality: Sequence[int]) -> Tensor:
    """The libjpeg round trip of a contiguous uint8 batch (B, C, H, W), C in {1, 3}.

    OpenCV encodes (the bytes of torchvision's encoder) from interleaved BGR (H, W, 3): one
    ``cv2.merge`` interleaves the whole batch, reading each channel as a (B, H W) view.
    simplejpeg decodes where installed (its libjpeg-turbo decodes the same pixels in about
    half of ``imdecode``'s time), grey images straight into their output plane, colour ones
    into one reused buffer that is split into the output's planes while it is in cache.
    """
    cv2 = cv2_module()
    b, c, h, w = x.shape
    out = torch.empty_like(x)
    ys = out.numpy()
    if c == 1:
        images = x.numpy()[:, 0]
    else:
        flat = x.numpy().reshape(b, c, h * w)
        images = cv2.merge([flat[:, 2], flat[:, 1], flat[:, 0]]).reshape(b, h, w, 3)
    decode = _jpeg_decoder(c, (h, w))
    for i, q in enumerate(quality):
        ok, data = cv2.imencode(".jpg", images[i], [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise ValueError(f"jpeg: OpenCV could not encode image {i}")
        decode(data, ys[i])
    return out


def _jpeg_decoder(c: int, size: tuple[int, int]) -> Callable[[np.ndarray, np.ndarray], None]:
    """``decode(data, planes)``: a JPEG file's pixels into ``planes`` (C, H, W) uint8."""
    sj, cv2 = simplejpeg_module(), cv2_module()
    if sj is not None and c == 1:
        return lambda data, planes: sj.decode_jpeg(data, colorspace="GRAY", buffer=planes[0])
    if sj is not None:
        buf = np.empty((*size, 3), np.uint8)
        return lambda data, planes: cv2.split(
            sj.decode_jpeg(data, colorspace="RGB", buffer=buf), list(planes)
        )
    mode = (
        cv2.IMREAD_GRAYSCALE if c == 1 else cv2.IMREAD_COLOR_RGB
    ) | cv2.IMREAD_IGNORE_ORIENTATION
    if c == 1:
        return lambda data, planes: np.copyto(planes[0], cv2.imdecode(data, mode))
    return lambda data, planes: cv2.split(cv2.imdecode(data, mode), list(planes))


@functools.cache
def simplejpeg_module() -> Any:
    """``simplejpeg`` (a dependency of qpt), or None when it is not installed."""
    try:
        import simplejpeg
    except ImportError:
        return None
    return simplejpeg


@functools.cache
def stringzilla_module() -> Any:
    """``stringzilla``, or None when it is not installed or its ``translate`` lacks ``out``
    (before 5.3, where the call raises a ``SystemError``, not a ``TypeError``).

    Its byte translation through a 256-entry table runs on SIMD byte shuffles: several times
    the rate of ``cv2.LUT`` (a scalar loop) and of ``convertScaleAbs``'s float multiply-add.
    A dependency of qpt; ``degrade`` alone keeps OpenCV's map when it is missing or older.
    """
    try:
        import stringzilla

        stringzilla.translate(memoryview(b"\0"), memoryview(bytes(256)), out=bytearray(1))
    except (ImportError, TypeError, SystemError):
        return None
    return stringzilla


#: bytes of the images whose sums and byte maps run back to back: a group stays in the L2
#: cache from its reduce to its maps, which then read it from there
GROUP_BYTES = 1 << 19

#: the 256 byte values, in order: the input of a byte map's table
_ALL_BYTES = np.arange(256, dtype=np.uint8)
#: luma weights over 255 (grey levels to [0, 1]): RGB, and one channel
_LUMA, _GREY = np.array((0.299, 0.587, 0.114)) / 255, np.array((1.0,)) / 255


def contrast_u8(x: Tensor, factor: Sequence[float]) -> Tensor:
    """Contrast around each image's mean luma (0.299, 0.587, 0.114): ``f x + (1 - f) m``
    rounded and saturated, per image.

    x: (B, C, H, W) uint8, factor: B values. Images run in groups of :data:`GROUP_BYTES`:
    the group's channel sums (one integer ``cv2.reduce``), then each image's byte map
    (:func:`contrast_map`) while the group is still in cache.
    """
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys = x.numpy(), out.numpy()
    b, w = x.shape[0], x.shape[-1]
    src, dst = xs.reshape(b, -1, w), ys.reshape(b, -1, w)
    n = max(1, GROUP_BYTES // max(1, xs[0].nbytes))
    for i0 in range(0, b, n):
        for i, m in enumerate(mean_luma_u8(xs[i0 : i0 + n]), i0):
            contrast_map(src[i], dst[i], factor[i], m)
    return out


def mean_luma_u8(xs: np.ndarray) -> list[float]:
    """Mean luma in [0, 1] of each image of ``xs`` (n, C, H, W) uint8 (the mean for C = 1):
    exact integer channel sums from one ``cv2.reduce``, or per-plane ``cv2.mean`` where int32
    sums could overflow."""
    cv2 = cv2_module()
    n, c, h, w = xs.shape
    luma = _LUMA if c == 3 else _GREY
    if h * w * 255 < 2**31:
        sums = cv2.reduce(xs.reshape(n * c, -1), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)
        return (sums.reshape(n, c) @ (luma / (h * w))).tolist()
    return (np.array([[cv2.mean(p)[0] for p in im] for im in xs]) @ luma).tolist()


def contrast_map(src: np.ndarray, dst: np.ndarray, f: float, m: float) -> None:
    """``dst = f src + (1 - f) 255 m`` rounded and saturated; src, dst: (C H, W) uint8.

    A factor <= 1 keeps every value in 0..255: ``convertScaleAbs``'s float32 multiply-add,
    rounded, on the image, or on the 256 levels when stringzilla maps the bytes (the same
    values). A factor > 1 takes a table that also clips what it pushes below 0 or above 255.
    """
    cv2 = cv2_module()
    beta = 255 * m * (1 - f)
    if f <= 1 and stringzilla_module() is None:
        cv2.convertScaleAbs(src, dst=dst, alpha=f, beta=beta)
        return
    if f <= 1:
        lut = cv2.convertScaleAbs(_ALL_BYTES, alpha=f, beta=beta).reshape(256)
    else:
        lut = np.rint(np.clip((_ALL_BYTES / 255 - m) * f + m, 0, 1) * 255).astype(np.uint8)
    translate(src, lut, dst)


def translate(src: np.ndarray, lut: np.ndarray, dst: np.ndarray) -> None:
    """``dst = lut[src]`` for contiguous uint8 arrays of one shape, ``lut`` (256,) uint8:
    stringzilla's ``translate`` where installed, else ``cv2.LUT``."""
    sz = stringzilla_module()
    if sz is not None:
        sz.translate(memoryview(src.reshape(-1)), memoryview(lut), out=memoryview(dst.reshape(-1)))
    else:
        cv2_module().LUT(src.reshape(1, -1), lut, dst=dst.reshape(1, -1))


def map_bytes(x: Tensor, tables: np.ndarray) -> Tensor:
    """Each image of a uint8 batch (B, C, H, W) through its 256-entry table (B, 256) uint8;
    a run of images with the same table in one call (:func:`translate`)."""
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys = x.numpy(), out.numpy()
    for i0, i1 in runs([t.tobytes() for t in tables]):
        translate(xs[i0:i1], tables[i0], ys[i0:i1])
    return out


def salt_and_pepper(src: np.ndarray, u: np.ndarray, amount: float, dst: np.ndarray) -> None:
    """One image's impulse noise: values whose draw ``u < amount / 2`` become 0, those with
    ``amount / 2 <= u < amount`` the top (1, or 255 for uint8), the rest stay.

    src, dst: (C, H, W) float32 or uint8; u: (C, H, W) float32 draws in [0, 1). The
    thresholds are float32, as the batch form's: ``amount`` is rounded to float32 first.
    """
    cv2 = cv2_module()
    w = src.shape[-1]
    a = np.float32(amount)
    un, s, d = u.reshape(-1, w), src.reshape(-1, w), dst.reshape(-1, w)
    if src.dtype == np.uint8:
        pepper = cv2.compare(un, float(a) / 2, cv2.CMP_LT)  # 255 where pepper
        salt = cv2.bitwise_xor(cv2.compare(un, float(a), cv2.CMP_LT), pepper)
        cv2.bitwise_or(s, salt, dst=d)
        cv2.bitwise_and(d, cv2.bitwise_not(pepper), dst=d)
        return
    # every value salt (1) where u >= a / 2, else pepper (0), then the kept ones copied over:
    # threshold's "u > t" is "u >= a / 2" at t the float32 just below a / 2
    below_half = float(np.nextafter(a / 2, np.float32(-np.inf)))  # amount 0: below 0
    cv2.threshold(un, below_half, 1.0, cv2.THRESH_BINARY, dst=d)
    cv2.copyTo(s, cv2.compare(un, float(a), cv2.CMP_GE), d)


def whiten(src: np.ndarray, mix: float, add: np.ndarray, dst: np.ndarray) -> None:
    """One RGB image whitened as ImageNet-C's snow does, plus a layer:
    ``(1 - mix) x + mix max(x, w) + add`` per channel, ``w = 1.5 grey + 0.5`` (grey: luma
    0.299, 0.587, 0.114), computed as ``max(x + add, (1 - mix) x + mix w + add)``.

    src, dst: (3, H, W) float32 in [0, 1], ``add`` (H, W) float32 >= 0 (dst clamped to at
    most 1: every term is >= 0); or uint8, in grey levels, ``add`` (H, W) uint8 (the layer
    rounded: the result is then within one grey level of the float form's, rounded).
    mix in [0, 1].
    """
    cv2 = cv2_module()
    u8 = src.dtype == np.uint8
    f32, k = cv2.CV_32F, 1.5 * mix
    shared = np.empty(src.shape[1:], np.float32)  # mix w + add, the same for every channel
    cv2.addWeighted(
        src[0], 0.299 * k, src[1], 0.587 * k, (255 if u8 else 1) * 0.5 * mix, dst=shared, dtype=f32
    )
    cv2.addWeighted(src[2], 0.114 * k, shared, 1.0, 0.0, dst=shared, dtype=f32)
    cv2.add(shared, add, dst=shared, dtype=f32)
    a, b = (np.empty(src.shape[1:], src.dtype) for _ in range(2))
    for c in range(3):
        cv2.addWeighted(src[c], 1.0 - mix, shared, 1.0, 0.0, dst=a, dtype=cv2.CV_8U if u8 else f32)
        cv2.add(src[c], add, dst=b)  # uint8: saturating byte sums
        if u8:  # the max of the two rounded terms is the max rounded
            cv2.max(a, b, dst=dst[c])
        else:
            cv2.max(a, b, dst=a)
            cv2.min(a, 1.0, dst=dst[c])


def power(x: Tensor, exponent: Sequence[float]) -> Tensor:
    """``x ** exponent[i]`` for each image of a float32 batch (B, C, H, W) of values in
    [0, 1], as ``exp(g log x)`` by NumPy on each image while it is in cache (faster than
    NumPy's ``power``, and than torch over the whole batch: four passes through memory;
    ``log 0 = -inf`` gives 0); marked clamped."""
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys = x.numpy(), out.numpy()
    with np.errstate(divide="ignore"):
        for i, g in enumerate(exponent):
            np.log(xs[i], out=ys[i])
            np.multiply(ys[i], np.float32(g), out=ys[i])
            np.exp(ys[i], out=ys[i])
    return mark_clamped(out)


def add_scaled_u8(x: Tensor, noise: Tensor) -> Tensor:
    """``x + noise`` rounded and saturated to uint8; noise: float32 in grey levels."""
    cv2 = cv2_module()
    x, noise = x.contiguous(), noise.contiguous()
    out = torch.empty_like(x)
    xs, ns, ys = x.numpy(), noise.numpy(), out.numpy()
    for i in range(x.shape[0]):
        shape = (-1, x.shape[-1])
        cv2.add(xs[i].reshape(shape), ns[i].reshape(shape), dst=ys[i].reshape(shape), dtype=0)
    return out


def color_affine_u8(x: Tensor, matrix: Tensor, offset: Tensor, luma_weight: Tensor) -> Tensor:
    """``y = M x + offset + <mean(x), luma_weight>`` per pixel of RGB uint8 images (values
    in [0, 1] units: matrix (B, 3, 3), offset (B,), luma_weight (B, 3))."""
    cv2 = cv2_module()
    x = x.contiguous()
    out = torch.empty_like(x)
    xs, ys = x.numpy(), out.numpy()
    for i in range(x.shape[0]):
        hwc = cv2.merge(list(xs[i]))
        means = np.array(cv2.mean(hwc)[:3]) / 255
        bias = 255 * (float(offset[i]) + float(means @ luma_weight[i].double().numpy()))
        m = np.concatenate([matrix[i].double().numpy(), np.full((3, 1), bias)], 1)
        cv2.split(cv2.transform(hwc, m), list(ys[i]))
    return out
