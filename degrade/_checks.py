"""Input validation and dtype handling shared by every op.

Every public entry point validates its batch once (rank, channels, finiteness, range) and
converts ``uint8`` to float in [0, 1]; the result is converted back to the input dtype.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor

#: smallest height/width any op accepts (smaller images cannot hold a blur kernel or a block)
MIN_SIZE = 8


def check_batch(x: Tensor, op: str, min_size: int = MIN_SIZE) -> None:
    """Raise ``ValueError`` naming ``op`` when ``x`` is not a valid image batch.

    Args:
        x: (B, C, H, W) with C in {1, 3}; float in [0, 1] or uint8.
        op: name used in the message.
        min_size: smallest H and W the op works on.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"{op}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a (B, C, H, W) batch, got shape {tuple(x.shape)}")
    b, c, h, w = x.shape
    if b == 0:
        raise ValueError(f"{op}: empty batch")
    if c not in (1, 3):
        raise ValueError(f"{op}: expected 1 or 3 channels, got {c}")
    check_size(x, op, min_size)
    if x.dtype == torch.uint8:
        return
    if not x.is_floating_point():
        raise ValueError(f"{op}: expected float in [0, 1] or uint8, got {x.dtype}")
    if in_unit_range(x):
        return
    lo, hi = torch.stack(torch.aminmax(x)).tolist()  # one device sync for both
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{op}: batch contains NaN or inf")
    if lo < 0 or hi > 1:
        raise ValueError(f"{op}: float values must be in [0, 1], got [{lo:.4g}, {hi:.4g}]")


#: float32 bit patterns, read as unsigned integers, keep the order of the values they encode
#: from +0.0 (0) to 1.0 (this); every negative value (its sign bit), NaN and inf lies above
ONE_BITS = 0x3F800000


def in_unit_range(x: Tensor) -> bool:
    """Whether a CPU float32 ``x`` (any shape) holds only values in [+0.0, 1.0], from one
    unsigned max over its bit patterns: a single reduction, no float compares, where
    ``aminmax`` takes two. False for other tensors, and for -0.0 (valid: callers then take
    the exact check, as do batches on the GPU path, forced or not)."""
    if x.dtype != torch.float32 or gpu_path(x):
        return False
    return int(x.detach().numpy().view(np.uint32).max()) <= ONE_BITS


def check_size(x: Tensor, op: str, min_size: int = MIN_SIZE) -> None:
    """Raise ``ValueError`` naming ``op`` when H or W of ``x`` is below ``min_size``."""
    h, w = x.shape[-2:]
    if h < min_size or w < min_size:
        raise ValueError(
            f"{op}: image size {h}x{w} is too small (needs at least {min_size}x{min_size})"
        )


#: run the GPU forms of the ops on CPU tensors too (see :func:`forced_gpu_path`; CI has no GPU)
FORCE_GPU_PATH = False


@contextlib.contextmanager
def forced_gpu_path() -> Iterator[None]:
    """Inside the block ops take their GPU forms on CPU tensors too (tests, and the launch
    count of ``qpt bench speed degrade-calls``); the previous setting comes back after."""
    global FORCE_GPU_PATH
    saved, FORCE_GPU_PATH = FORCE_GPU_PATH, True
    try:
        yield
    finally:
        FORCE_GPU_PATH = saved


def gpu_path(x: Tensor) -> bool:
    """Whether ops take their GPU forms on ``x`` (whole-batch kernels, per-sample tensors on
    the device) rather than their CPU forms (per-image loops, cache-sized steps).

    The one place that decides it, so that tests can run the GPU forms on a CPU machine.
    A tensor that requires grad takes the GPU forms too: the CPU forms write into buffers
    (``out=``, in place), which autograd cannot differentiate.
    """
    return x.is_cuda or FORCE_GPU_PATH or x.requires_grad


def check_grad(x: Tensor, op: str, differentiable: bool, params: Iterable[object] = ()) -> None:
    """Refuse autograd inputs (``x`` or a parameter tensor that requires grad) for an op that
    cannot pass a gradient (real codecs, rounding, random draws, in-place fast paths)."""
    if differentiable:
        return
    if x.requires_grad or any(isinstance(v, Tensor) and v.requires_grad for v in params):
        raise ValueError(
            f"{op}: not differentiable (no autograd through this op); pass a tensor that does "
            "not require grad (x.detach()), or use a differentiable op such as "
            "jpeg_differentiable"
        )


def to_float(x: Tensor) -> Tensor:
    """uint8 (0..255) to float32 in [0, 1]; float tensors pass through."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def restore_dtype(y: Tensor, dtype: torch.dtype) -> Tensor:
    """Clamp to [0, 1] and convert back to ``dtype`` (uint8 is rounded)."""
    return from_float_(y.clamp(0.0, 1.0), dtype)


def from_float_(y: Tensor, dtype: torch.dtype) -> Tensor:
    """:func:`restore_dtype` for a float result already in [0, 1] that may be overwritten."""
    if dtype == torch.uint8:
        return y.mul_(255.0).round_().to(torch.uint8)
    return y.to(dtype)


def per_sample(
    v: float | Sequence[float] | Tensor, x: Tensor, name: str, op: str, host: bool = False
) -> Tensor:
    """A per-sample parameter as a (B,) float tensor on ``x``'s device (on the CPU if
    ``host``: for ops that build their per-sample tensors there).

    Args:
        v: a scalar (same value for every sample) or B values.
        x: (B, C, H, W) batch the parameter belongs to.
    """
    # plain numbers (the Degrader's path) are checked in Python: cheaper than tensor ops
    vals = [v] if type(v) in (float, int) else v
    plain = isinstance(vals, list) and all(type(f) in (float, int) for f in vals)
    t = torch.as_tensor(v, dtype=x.dtype if x.is_floating_point() else torch.float32)
    if t.ndim != 0 and t.shape != (x.shape[0],):
        raise ValueError(
            f"{op}: '{name}' must be a scalar or have shape ({x.shape[0]},), got {tuple(t.shape)}"
        )
    # checked before the copy: no GPU sync for host values
    if not (all(math.isfinite(f) for f in vals) if plain else torch.isfinite(t).all()):
        raise ValueError(f"{op}: '{name}' contains NaN or inf")
    t = t.cpu() if host else to_device(t, x.device)
    return t.expand(x.shape[0]) if t.ndim == 0 else t


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """Move a small host tensor to ``device`` without a stream sync (pinned, non-blocking);
    a copy from pageable memory would wait for every queued kernel first."""
    if t.device == device or device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def to_like(t: Tensor, like: Tensor) -> Tensor:
    """A host constant in ``like``'s dtype and on its device, copied without a GPU sync."""
    return to_device(t.to(like.dtype), like.device)


def need_color(x: Tensor, op: str) -> None:
    """Colour ops need RGB input."""
    if x.shape[1] != 3:
        raise ValueError(f"{op}: needs 3-channel RGB input, got {x.shape[1]} channel(s)")
