"""Real-ESRGAN blur primitives with per-sample kernels: isotropic / anisotropic / generalised /
plateau Gaussian and sinc (ideal low-pass) filters, applied with ``kornia.filters.filter2d``."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from kornia.filters import filter2d
from torch import Tensor

from degrade import _cv
from degrade._batch import grouped, index_groups, put_centred
from degrade._checks import gpu_path, to_like
from degrade._cpu_filters import filter2d_image, per_image
from degrade._linear import gaussian_blur_separable, gaussian_taps
from degrade.kernels import (
    gaussian_kernel,
    generalized_gaussian_kernel,
    odd,
    plateau_kernel,
    sinc_kernel,
)
from degrade.registry import Joint, Param, module_form, register

__all__ = [
    "iso_gaussian_blur",
    "aniso_gaussian_blur",
    "generalized_gaussian_blur",
    "plateau_blur",
    "sinc_blur",
    "filter_per_sample",
    "filter_kernels",
    "IsoGaussianBlur",
    "AnisoGaussianBlur",
    "GeneralizedGaussianBlur",
    "PlateauBlur",
    "SincBlur",
]

RE = ("realesrgan",)
SIGMA = (0.6, 1.0, 1.6, 2.3, 3.0)
THETA = Param("theta", (), -math.pi, math.pi)


def filter_per_sample(x: Tensor, kernels: Tensor) -> Tensor:
    """Correlate each sample with its own kernel (reflect border). kernels: (B, k, k).

    kornia's ``filter2d``; on CPU, OpenCV's ``filter2D`` per image plane
    (:func:`degrade._cv.filter2d`), or without OpenCV the cheapest form of
    :func:`~degrade._cpu_filters.filter2d_image` (box sums for discs, an FFT from 11 taps on,
    both faster there than a direct convolution).
    """
    kernels = fit_kernels(kernels, *x.shape[-2:])
    if _cv.usable(x):
        return _cv.filter2d(x, kernels)
    if not gpu_path(x):
        return per_image(x, kernels.to(x.dtype), filter2d_image)
    # kernels built on the host (host=True ops) are copied pinned, not by kornia's .to()
    return filter2d(x, to_like(kernels, x), border_type="reflect")


def fit_kernels(kernels: Tensor, h: int, w: int) -> Tensor:
    """(B, k, k) kernels as :func:`filter_per_sample` applies them to an H x W image: cut to
    an odd size whose reflect padding the image can give (``< 2 min(H, W) - 1``) and
    renormalised; as they are when they fit."""
    k, limit = kernels.shape[-1], 2 * min(h, w) - 1
    if k <= limit:
        return kernels
    c = (k - limit) // 2 + 1
    cut = kernels[:, c:-c, c:-c]
    return cut / cut.sum((-2, -1), keepdim=True)


def _ksizes(sigma: Tensor, extra: int = 0) -> list[int]:
    return [min(21, odd(2 * math.ceil(3 * s) + 1) + extra) for s in sigma.tolist()]


def filter_kernels(x: Tensor, kernel: Tensor, size: Tensor) -> Tensor:
    """Each sample correlated with its own kernel: sample i's is the centred ``size[i]`` square
    of ``kernel[i]``; samples run grouped by size (each at its own size, none padded).

    The joint form of the Real-ESRGAN kernel blurs. Shape: x (B, C, H, W); kernel (B, K, K)
    and size (B,) odd ints <= K, on the host.
    """
    big = kernel.shape[-1]

    def run(xs: Tensor, idx: Tensor, k: int) -> Tensor:
        c = (big - k) // 2
        return filter_per_sample(xs, kernel[idx, c : c + k, c : c + k])

    return grouped(x, size.tolist(), run)


#: the five Real-ESRGAN kernel blurs run in one call
KERNEL = Joint("kernel_blur", filter_kernels)


def _padded(keys: list[int], make: Callable[[int, Tensor], Tensor], like: Tensor) -> dict:
    """Kernels ``make(k, idx)`` per size k, centred in (B, K, K) zeros (K: the largest k)."""
    big = max(keys)
    kernel = torch.zeros(len(keys), big, big, dtype=like.dtype)
    for k, idx in index_groups(keys):
        put_centred(kernel, idx, make(k, torch.tensor(idx)))
    return {"kernel": kernel, "size": torch.tensor(keys)}


def _iso_coeffs(sigma: Tensor) -> dict[str, Tensor]:
    sigma = sigma.clamp_min(0.05)
    taps = gaussian_taps(sigma)  # (B, K): 2 ceil(3 sigma) + 1 taps each, centred
    size = 2 * torch.ceil(3 * sigma).long().clamp_min(1) + 1
    return {"kernel": taps[:, :, None] * taps[:, None, :], "size": size}


@register(
    "iso_gaussian_blur",
    [Param("sigma", SIGMA, 0.2, 3.0)],
    family="blur",
    tags=RE,
    host=True,
    joint=(KERNEL, _iso_coeffs),
)
def iso_gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Isotropic Gaussian kernel blur (Real-ESRGAN; separable, 2*ceil(3 sigma)+1 taps).

    Shape: x (B, C, H, W); sigma (B,).
    """
    return gaussian_blur_separable(x, sigma.clamp_min(0.05))


ANISO = [
    Param("sigma_x", SIGMA, 0.2, 3.0),
    Param("sigma_y", (0.3, 0.5, 0.8, 1.1, 1.5), 0.2, 3.0),
    THETA,
]


def _aniso_coeffs(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor) -> dict[str, Tensor]:
    keys = _ksizes(torch.maximum(sigma_x, sigma_y))
    return _padded(keys, lambda k, i: gaussian_kernel(k, sigma_x[i], sigma_y[i], theta[i]), theta)


@register(
    "aniso_gaussian_blur",
    ANISO,
    family="blur",
    tags=RE,
    host=True,
    joint=(KERNEL, _aniso_coeffs),
)
def aniso_gaussian_blur(x: Tensor, sigma_x: Tensor, sigma_y: Tensor, theta: Tensor) -> Tensor:
    """Anisotropic Gaussian kernel blur rotated by ``theta`` (radians).

    Shape: x (B, C, H, W); sigma_x, sigma_y, theta (B,).
    """
    return filter_kernels(x, **_aniso_coeffs(sigma_x, sigma_y, theta))


def _generalized_coeffs(
    sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor
) -> dict[str, Tensor]:
    keys = _ksizes(torch.maximum(sigma_x, sigma_y))
    return _padded(
        keys,
        lambda k, i: generalized_gaussian_kernel(k, sigma_x[i], sigma_y[i], theta[i], beta[i]),
        theta,
    )


@register(
    "generalized_gaussian_blur",
    [*ANISO, Param("beta", (), 0.5, 4.0)],
    family="blur",
    tags=RE,
    host=True,
    joint=(KERNEL, _generalized_coeffs),
)
def generalized_gaussian_blur(
    x: Tensor, sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor
) -> Tensor:
    """Generalised Gaussian kernel blur (shape ``beta`` in [0.5, 4]).

    Shape: x (B, C, H, W); sigma_x, sigma_y, theta, beta (B,).
    """
    return filter_kernels(x, **_generalized_coeffs(sigma_x, sigma_y, theta, beta))


def _plateau_coeffs(
    sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor
) -> dict[str, Tensor]:
    keys = _ksizes(torch.maximum(sigma_x, sigma_y), extra=4)
    return _padded(
        keys, lambda k, i: plateau_kernel(k, sigma_x[i], sigma_y[i], theta[i], beta[i]), theta
    )


@register(
    "plateau_blur",
    [*ANISO, Param("beta", (), 1.0, 2.0)],
    family="blur",
    tags=RE,
    host=True,
    joint=(KERNEL, _plateau_coeffs),
)
def plateau_blur(
    x: Tensor, sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor
) -> Tensor:
    """Plateau-shaped kernel blur (``beta`` in [1, 2]); heavier tails than a Gaussian.

    Shape: x (B, C, H, W); sigma_x, sigma_y, theta, beta (B,).
    """
    return filter_kernels(x, **_plateau_coeffs(sigma_x, sigma_y, theta, beta))


def _sinc_coeffs(omega: Tensor, ksize: Tensor) -> dict[str, Tensor]:
    keys = [odd(k) for k in ksize.tolist()]
    return _padded(keys, lambda k, i: sinc_kernel(k, omega[i]), omega)


@register(
    "sinc_blur",
    [
        Param("omega", (3.0, 2.4, 1.8, 1.4, 1.05), math.pi / 3, math.pi),
        Param("ksize", (21,) * 5, 7, 21, kind="int"),
    ],
    family="blur",
    tags=RE,
    host=True,
    joint=(KERNEL, _sinc_coeffs),
)
def sinc_blur(x: Tensor, omega: Tensor, ksize: Tensor) -> Tensor:
    """Sinc (ideal circular low-pass) filter with cutoff ``omega``: ringing and overshoot.

    Shape: x (B, C, H, W); omega (B,) in rad/pixel; ksize (B,) odd sizes (each its own).
    """
    return filter_kernels(x, **_sinc_coeffs(omega, ksize))


IsoGaussianBlur = module_form("IsoGaussianBlur", "iso_gaussian_blur")

AnisoGaussianBlur = module_form("AnisoGaussianBlur", "aniso_gaussian_blur")

GeneralizedGaussianBlur = module_form("GeneralizedGaussianBlur", "generalized_gaussian_blur")

PlateauBlur = module_form("PlateauBlur", "plateau_blur")

SincBlur = module_form("SincBlur", "sinc_blur")
