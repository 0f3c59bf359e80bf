"""Per-sample blur kernels as (B, k, k) tensors (Real-ESRGAN family, discs, motion lines).

Formulas follow the Real-ESRGAN paper (Wang et al., ICCV-W 2021, Sec. 3.1): with the
covariance ``S = R(theta) diag(sx^2, sy^2) R(theta)^T`` and ``d = x^T S^-1 x``,

* Gaussian: ``exp(-d / 2)``; generalised Gaussian: ``exp(-(d / 2) ** beta)`` (we use the
  paper's ``exp(-(x^T S^-1 x)^beta / 2)`` form); plateau: ``1 / (1 + d ** beta)``;
* sinc (ideal low-pass): ``omega / (2 pi r) * J1(omega r)``, centre ``omega^2 / (4 pi)``.

All kernels are normalised to sum 1. kornia's ``get_gaussian_kernel2d`` covers only the
axis-aligned Gaussian, so these are written here (a few tensor lines each).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _grid(k: int, like: Tensor) -> tuple[Tensor, Tensor]:
    r = torch.arange(k, device=like.device, dtype=like.dtype) - (k - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return xx, yy


def _mahalanobis(k: int, sx: Tensor, sy: Tensor, theta: Tensor) -> Tensor:
    """x^T S^-1 x on a k x k grid per sample: (B, k, k)."""
    xx, yy = _grid(k, sx)
    c, s = torch.cos(theta)[:, None, None], torch.sin(theta)[:, None, None]
    u = c * xx + s * yy  # coordinates in the rotated frame
    v = -s * xx + c * yy
    return (u / sx[:, None, None]) ** 2 + (v / sy[:, None, None]) ** 2


def _normalise(k: Tensor) -> Tensor:
    return k / k.sum((-2, -1), keepdim=True)


def gaussian_kernel(k: int, sx: Tensor, sy: Tensor, theta: Tensor) -> Tensor:
    """Anisotropic Gaussian kernels. sx, sy, theta: (B,) -> (B, k, k)."""
    return _normalise(torch.exp(-0.5 * _mahalanobis(k, sx, sy, theta)))


def generalized_gaussian_kernel(
    k: int, sx: Tensor, sy: Tensor, theta: Tensor, beta: Tensor
) -> Tensor:
    """Generalised Gaussian kernels ``exp(-0.5 d^beta)``. (B,) params -> (B, k, k)."""
    d = _mahalanobis(k, sx, sy, theta)
    return _normalise(torch.exp(-0.5 * d.pow(beta[:, None, None])))


def plateau_kernel(k: int, sx: Tensor, sy: Tensor, theta: Tensor, beta: Tensor) -> Tensor:
    """Plateau-shaped kernels ``1 / (1 + d^beta)``. (B,) params -> (B, k, k)."""
    d = _mahalanobis(k, sx, sy, theta)
    return _normalise(1.0 / (1.0 + d.pow(beta[:, None, None])))


def sinc_kernel(k: int, omega: Tensor) -> Tensor:
    """Circular low-pass (sinc) kernels with cutoff ``omega`` (rad/pixel). (B,) -> (B, k, k)."""
    xx, yy = _grid(k, omega)
    r = torch.sqrt(xx**2 + yy**2)[None]
    w = omega[:, None, None]
    safe = torch.where(r > 0, r, torch.ones_like(r))
    ker = w * torch.special.bessel_j1(w * safe) / (2 * math.pi * safe)
    ker = torch.where(r > 0, ker, w**2 / (4 * math.pi))
    return _normalise(ker)


def disc_kernel(k: int, radius: Tensor) -> Tensor:
    """Anti-aliased discs (lens/defocus blur) of per-sample ``radius``. (B,) -> (B, k, k)."""
    xx, yy = _grid(k, radius)
    r = torch.sqrt(xx**2 + yy**2)[None]
    return _normalise((radius[:, None, None] + 0.5 - r).clamp(0, 1))


def motion_kernel(k: int, length: Tensor, angle: Tensor) -> Tensor:
    """Anti-aliased line segments of per-sample ``length`` (pixels) and ``angle`` (degrees).

    (B,) -> (B, k, k); the segment is centred (symmetric motion blur).
    """
    xx, yy = _grid(k, length)
    a = torch.deg2rad(angle)[:, None, None]
    along = xx * torch.cos(a) + yy * torch.sin(a)
    across = -xx * torch.sin(a) + yy * torch.cos(a)
    half = (length[:, None, None] / 2).clamp_min(0.5)
    ker = (1 - across.abs()).clamp(0, 1) * (half + 0.5 - along.abs()).clamp(0, 1)
    return _normalise(ker)


def odd(k: float) -> int:
    """Smallest odd integer >= k (and >= 3)."""
    n = max(3, math.ceil(k))
    return n if n % 2 else n + 1
