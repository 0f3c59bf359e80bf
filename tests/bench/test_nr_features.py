"""Handcrafted NR features respond to the distortions they are meant to measure."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from bench.nr_features import FEATURE_NAMES, HandcraftedNR, nr_features

COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.astronaut()[:256, 128:384].copy()  # (256, 256, 3) uint8, real photo


def _t(*images: np.ndarray) -> torch.Tensor:
    return torch.stack([torch.from_numpy(i).permute(2, 0, 1).float() / 255 for i in images])


def test_shape_and_names(photo: np.ndarray) -> None:
    out = nr_features(_t(photo, photo[::-1].copy()))
    assert out.shape == (2, len(FEATURE_NAMES)) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    assert HandcraftedNR().forward_features(_t(photo)).shape == (1, HandcraftedNR.num_features)


@pytest.mark.parametrize("shape", [(3, 64, 64), (2, 1, 64, 64), (2, 3, 8, 8)])
def test_bad_shapes_are_refused(shape: tuple) -> None:
    with pytest.raises(ValueError, match="nr_features"):
        nr_features(torch.rand(shape))


@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_noise_sigma_recovers_added_gaussian_noise(sigma: float) -> None:
    gen = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0.2, 0.8, 128).view(1, 1, 1, 128).expand(1, 3, 128, 128)
    noisy = ramp + sigma * torch.randn(1, 1, 128, 128, generator=gen).expand(1, 3, 128, 128)
    estimate = nr_features(noisy)[0, COL["noise_sigma"]].item()
    assert estimate == pytest.approx(sigma, rel=0.1)


def test_jpeg_raises_blockiness_and_blur_lowers_sharpness(photo: np.ndarray) -> None:
    ok, enc = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, 8])
    jpeg = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    blurred = cv2.GaussianBlur(photo, (0, 0), 3)
    clean, blocky, soft = nr_features(_t(photo, jpeg, blurred))
    assert blocky[COL["blockiness"]] > 1.15 * clean[COL["blockiness"]]
    assert 0.8 < clean[COL["blockiness"]] < 1.2
    assert soft[COL["sharpness"]] < clean[COL["sharpness"]] - 1.0
    assert soft[COL["gradient"]] < clean[COL["gradient"]]


def test_grey_has_no_colour_and_flat_has_no_entropy(photo: np.ndarray) -> None:
    grey = np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    flat = np.full_like(photo, 128)
    rand = np.random.default_rng(0).integers(0, 256, photo.shape, dtype=np.uint8)
    f_photo, f_grey, f_flat, f_rand = nr_features(_t(photo, grey, flat, rand))
    assert f_grey[COL["colourfulness_std"]] < 1e-4 < f_photo[COL["colourfulness_std"]]
    assert f_flat[COL["entropy"]] == pytest.approx(0.0, abs=1e-6)
    assert f_rand[COL["entropy"]] > 7.5
    assert f_flat[COL["contrast"]] == pytest.approx(0.0, abs=1e-6)
