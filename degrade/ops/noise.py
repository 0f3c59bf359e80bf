"""Noise ops: white (Gaussian) noise, grey noise, Poisson/shot, impulse, multiplicative."""

from __future__ import annotations

from collections.abc import Callable

import torch
from kornia.color import rgb_to_grayscale, rgb_to_ycbcr, ycbcr_to_rgb
from torch import Tensor

from degrade import _cv
from degrade._checks import to_device, to_like
from degrade._random import bcast, generators, seeded_normal, seeded_uniform
from degrade.registry import (
    Joint,
    Param,
    module_form,
    register,
    register_variant,
    seed_param,
    uint8_form,
)

__all__ = [
    "gaussian_noise",
    "gray_gaussian_noise",
    "poisson_noise",
    "gray_poisson_noise",
    "shot_noise",
    "add_noise",
    "GaussianNoise",
    "GrayGaussianNoise",
    "PoissonNoise",
    "GrayPoissonNoise",
    "ShotNoise",
    "white_noise_color_component",
    "impulse_noise",
    "multiplicative_noise",
    "speckle_noise",
    "denoise",
    "WhiteNoiseColorComponent",
    "ImpulseNoise",
    "MultiplicativeNoise",
    "SpeckleNoise",
    "Denoise",
]


#: white-noise sigma (fraction of the [0, 1] range) at levels 1-5, its sampling range, and
#: the values accepted: up to ImageNet-C's severity 5 (0.38)
NOISE_SIGMA = Param("sigma", (0.02, 0.04, 0.07, 0.11, 0.16), 0.0, 0.2, limits=(0.0, 0.5))
#: Real-ESRGAN Poisson noise scale at levels 1-5 (range as in the paper: 0.05-3)
POISSON_SCALE = Param("scale", (0.3, 0.7, 1.2, 2.0, 3.0), 0.05, 3.0)


#: the noise each sample of :func:`add_noise` draws
GAUSS, GRAY_GAUSS, POISSON, GRAY_POISSON = range(4)


def _grey(x: Tensor) -> Tensor:
    return x.mean(1, keepdim=True) if x.shape[1] == 1 else rgb_to_grayscale(x)


def add_noise(x: Tensor, strength: Tensor, kind: Tensor, seed: Tensor) -> Tensor:
    """``x + strength * n`` per sample, n of the sample's ``kind``: Gaussian per channel
    (:data:`GAUSS`) or shared by the channels (:data:`GRAY_GAUSS`); Poisson counts of 255 x
    per channel (:data:`POISSON`) or of the luma (:data:`GRAY_POISSON`), / 255, minus the
    image. Each sample draws from its own seed, the same draws as the op of its kind.

    The joint form of the four Real-ESRGAN noises. Shape: x (B, C, H, W); strength (B,),
    kind (B,) int, seed (B,) int64, on the host.
    """
    kinds = kind.tolist()
    noise = torch.empty_like(x)
    lam = x * 255.0 if POISSON in kinds else None  # Poisson rates: one pass for the batch
    luma = _grey(x) if GRAY_POISSON in kinds else None
    # one draw per sample (its own seed), into channel 0 only for the grey kinds
    for i, (k, g) in enumerate(zip(kinds, generators(seed, x.device), strict=True)):
        if k == GAUSS:
            noise[i].normal_(generator=g)
        elif k == GRAY_GAUSS:
            noise[i, :1].normal_(generator=g)
        elif k == POISSON:
            noise[i] = torch.poisson(lam[i], generator=g)  # type: ignore[index]
        else:
            noise[i, :1] = torch.poisson(luma[i] * 255.0, generator=g)  # type: ignore[index]
    # then batched, by kind: counts to noise, grey channel 0 to every channel
    rows = [[k == POISSON, k == GRAY_POISSON, k in (GRAY_GAUSS, GRAY_POISSON)] for k in kinds]
    masks = to_device(torch.tensor(rows), x.device).view(-1, 3, 1, 1, 1)
    if lam is not None:
        noise = torch.where(masks[:, 0], noise / 255.0 - x, noise)
    if luma is not None:
        noise[:, :1] = torch.where(masks[:, 1], noise[:, :1] / 255.0 - luma, noise[:, :1])
    if x.shape[1] > 1:
        noise[:, 1:] = torch.where(masks[:, 2], noise[:, :1], noise[:, 1:])
    return x + to_like(bcast(strength), x) * noise


#: Real-ESRGAN's four noises run in one call
NOISE = Joint("noise", add_noise)


def _kind(k: int) -> Callable[..., dict[str, Tensor]]:
    def coeffs(seed: Tensor, **strength: Tensor) -> dict[str, Tensor]:
        (s,) = strength.values()
        return {"strength": s, "kind": torch.full_like(seed, k), "seed": seed}

    return coeffs


@register(
    "gaussian_noise",
    [NOISE_SIGMA, seed_param()],
    family="noise",
    tags=("kadid", "qpt-v2", "realesrgan", "imagenet-c"),
    host=True,
    joint=(NOISE, _kind(GAUSS)),
)
def gaussian_noise(x: Tensor, sigma: Tensor, seed: Tensor | None = None) -> Tensor:
    """Additive white Gaussian noise, independent per channel (KADID "white noise").

    Shape: x (B, C, H, W); sigma (B,) in [0, 1] units; seed (B,) int64 (drawn if None).
    """
    # sigma n + x in place: the same sums as x + sigma n, without two more batch-sized tensors
    return seeded_normal(x.shape[1:], seed, x).mul_(to_like(bcast(sigma), x)).add_(x)


@uint8_form("gaussian_noise")
def _gaussian_noise_u8(x: Tensor, sigma: Tensor, seed: Tensor) -> Tensor:
    noise = seeded_normal(x.shape[1:], seed, sigma).mul_(bcast(255 * sigma))
    return _cv.add_scaled_u8(x, noise)


@register(
    "gray_gaussian_noise",
    [NOISE_SIGMA, seed_param()],
    family="noise",
    tags=("realesrgan",),
    host=True,
    joint=(NOISE, _kind(GRAY_GAUSS)),
)
def gray_gaussian_noise(x: Tensor, sigma: Tensor, seed: Tensor | None = None) -> Tensor:
    """Additive Gaussian noise shared by all channels (Real-ESRGAN "grey noise").

    Shape: x (B, C, H, W); sigma (B,); seed (B,).
    """
    return x + to_like(bcast(sigma), x) * seeded_normal((1, *x.shape[2:]), seed, x)


GaussianNoise = module_form("GaussianNoise", "gaussian_noise")

GrayGaussianNoise = module_form("GrayGaussianNoise", "gray_gaussian_noise")


def _seeded_poisson(lam: Tensor, seeds: Tensor) -> Tensor:
    """Poisson draws, sample i from seeds[i]. lam: (B, ...)."""
    return torch.stack(
        [
            torch.poisson(l_, generator=g)
            for l_, g in zip(lam, generators(seeds, lam.device), strict=True)
        ]
    )


@register(
    "poisson_noise",
    [POISSON_SCALE, seed_param()],
    family="noise",
    tags=("realesrgan",),
    host=True,
    joint=(NOISE, _kind(POISSON)),
)
def poisson_noise(x: Tensor, scale: Tensor, seed: Tensor | None = None) -> Tensor:
    """Real-ESRGAN Poisson noise: ``x + scale * (Poisson(255 x) / 255 - x)``, per channel.

    Shape: x (B, C, H, W); scale (B,); seed (B,).
    """
    noise = _seeded_poisson(x * 255.0, seed) / 255.0 - x
    return x + to_like(bcast(scale), x) * noise


@register(
    "gray_poisson_noise",
    [POISSON_SCALE, seed_param()],
    family="noise",
    tags=("realesrgan",),
    host=True,
    joint=(NOISE, _kind(GRAY_POISSON)),
)
def gray_poisson_noise(x: Tensor, scale: Tensor, seed: Tensor | None = None) -> Tensor:
    """Real-ESRGAN grey Poisson noise: the noise of the luma image added to every channel.

    Shape: x (B, C, H, W); scale (B,); seed (B,).
    """
    grey = _grey(x)
    noise = _seeded_poisson(grey * 255.0, seed) / 255.0 - grey
    return x + to_like(bcast(scale), x) * noise


@register(
    "shot_noise",
    [Param("photons", (60.0, 25.0, 12.0, 5.0, 3.0), 3.0, 100.0), seed_param()],
    family="noise",
    tags=("imagenet-c",),
    differentiable=False,
)
def shot_noise(x: Tensor, photons: Tensor, seed: Tensor | None = None) -> Tensor:
    """ImageNet-C shot noise: ``Poisson(x * photons) / photons`` (fewer photons, more noise).

    Shape: x (B, C, H, W); photons (B,); seed (B,). Each image is scaled, drawn and divided
    straight into its slot of the output (no batch-wide passes around the sampler).
    """
    out = torch.empty_like(x)
    for xi, o, p, g in zip(x, out, photons, generators(seed, x.device), strict=True):
        torch.div(torch.poisson(xi * p, generator=g), p, out=o)
    return out


@uint8_form("shot_noise")
def _shot_noise_u8(x: Tensor, photons: Tensor, seed: Tensor) -> Tensor:
    # the float form's operations image by image, while its float copy is in cache
    out = torch.empty_like(x)
    for xi, o, p, g in zip(x, out, photons, generators(seed, x.device), strict=True):
        counts = torch.poisson(xi.float().div_(255.0).mul_(p), generator=g)
        o.copy_(counts.div_(p).clamp_(0.0, 1.0).mul_(255.0).round_())
    return out


PoissonNoise = module_form("PoissonNoise", "poisson_noise")

GrayPoissonNoise = module_form("GrayPoissonNoise", "gray_poisson_noise")

ShotNoise = module_form("ShotNoise", "shot_noise")


@register(
    "white_noise_color_component",
    [NOISE_SIGMA, seed_param()],
    family="noise",
    tags=("kadid",),
    color=True,
)
def white_noise_color_component(x: Tensor, sigma: Tensor, seed: Tensor | None = None) -> Tensor:
    """White noise in the colour components: Gaussian noise on YCbCr Cb and Cr only.

    Shape: x (B, 3, H, W); sigma (B,); seed (B,).
    """
    ycc = rgb_to_ycbcr(x)
    n = bcast(sigma) * seeded_normal((2, *x.shape[2:]), seed, x)
    return ycbcr_to_rgb(torch.cat([ycc[:, :1], ycc[:, 1:] + n], 1))


@register(
    "impulse_noise",
    [Param("amount", (0.01, 0.03, 0.06, 0.1, 0.16), 0.0, 0.27), seed_param()],
    family="noise",
    tags=("kadid", "imagenet-c"),
)
def impulse_noise(x: Tensor, amount: Tensor, seed: Tensor | None = None) -> Tensor:
    """Salt-and-pepper noise: a fraction ``amount`` of values set to 0 or 1 (half each).

    Shape: x (B, C, H, W); amount (B,) in [0, 1]; seed (B,).
    """
    if _cv.usable(x):
        return _impulse_images(x, amount, seed)
    # one draw per value decides both: u < amount / 2 is pepper, amount / 2 <= u < amount salt
    u = seeded_uniform(x.shape[1:], seed, x)
    a = bcast(amount)
    return torch.where(u < a, (u >= a / 2).to(x.dtype), x)


def _impulse_images(x: Tensor, amount: Tensor, seed: Tensor) -> Tensor:
    """:func:`impulse_noise` image by image while its draws are in cache, on CPU float32 or
    uint8 (salt 255): the same draws and float32 comparisons as the batch form, OpenCV's.
    Any memory layout in: the planes are read and written as contiguous arrays."""
    x = x.contiguous()
    out = torch.empty_like(x)
    u = torch.empty(x.shape[1:], dtype=torch.float32)  # one buffer for every image's draws
    amounts = amount.to(torch.float32).tolist()
    for i, g in enumerate(generators(seed, x.device)):
        u.uniform_(generator=g)
        _cv.salt_and_pepper(x[i].numpy(), u.numpy(), amounts[i], out[i].numpy())
    return _cv.mark_clamped(out) if x.dtype == torch.float32 else out


uint8_form("impulse_noise")(_impulse_images)


@register(
    "multiplicative_noise",
    [Param("sigma", (0.05, 0.1, 0.18, 0.28, 0.4), 0.0, 0.6), seed_param()],
    family="noise",
    tags=("kadid",),
)
def multiplicative_noise(x: Tensor, sigma: Tensor, seed: Tensor | None = None) -> Tensor:
    """Multiplicative (speckle) noise ``x * (1 + sigma * N(0, 1))``.

    Shape: x (B, C, H, W); sigma (B,); seed (B,).
    """
    return x * (1 + bcast(sigma) * seeded_normal(x.shape[1:], seed, x))


@register(
    "denoise",
    [Param("sigma", (0.03, 0.05, 0.08, 0.12, 0.18), 0.0, 0.2), seed_param()],
    family="noise",
    tags=("kadid",),
)
def denoise(x: Tensor, sigma: Tensor, seed: Tensor | None = None) -> Tensor:
    """Denoising artefacts: white noise of ``sigma`` then a Gaussian low-pass "denoiser" whose
    strength follows the noise (blur sigma = 12 * noise sigma px): smooth, detail-less
    patches with residual noise (KADID's BM3D-style denoise, cheaply).

    Shape: x (B, C, H, W); sigma (B,); seed (B,).
    """
    from degrade.ops.blur import blur_sigma

    noisy = x + bcast(sigma) * seeded_normal(x.shape[1:], seed, x)
    return blur_sigma(noisy, 12 * sigma)


WhiteNoiseColorComponent = module_form("WhiteNoiseColorComponent", "white_noise_color_component")
ImpulseNoise = module_form("ImpulseNoise", "impulse_noise")
MultiplicativeNoise = module_form("MultiplicativeNoise", "multiplicative_noise")
Denoise = module_form("Denoise", "denoise")
speckle_noise = register_variant(
    "speckle_noise",
    "multiplicative_noise",
    {"sigma": (0.15, 0.2, 0.35, 0.45, 0.6)},
    ("imagenet-c",),
)
SpeckleNoise = module_form("SpeckleNoise", "speckle_noise")
