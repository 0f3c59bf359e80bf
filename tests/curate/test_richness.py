"""Richness estimate: grows with the number of objects; calibration fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from skimage.draw import ellipse

from curate.richness import estimate_objects, fit_scale


def _scene(objects: int, rng: np.random.Generator, side: int = 256) -> np.ndarray:
    """SA-1B-style synthetic scene: ``objects`` distinct flat-coloured blobs on a smooth
    background (each blob is one mask in SA-1B's sense)."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    image = np.stack([60 + 40 * yy, 80 + 30 * xx, 100 + 20 * yy * xx], axis=-1)
    cell = side / np.ceil(np.sqrt(objects))  # spread them so they rarely merge
    per_row = int(np.ceil(np.sqrt(objects)))
    for k in range(objects):
        cy, cx = (k // per_row + 0.5) * cell, (k % per_row + 0.5) * cell
        rr, cc = ellipse(cy, cx, cell * rng.uniform(0.25, 0.4), cell * rng.uniform(0.25, 0.4),
                         shape=(side, side))  # fmt: skip
        image[rr, cc] = rng.uniform(0, 255, size=3)
    noise = rng.normal(0, 2, size=image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def test_estimate_grows_with_object_count() -> None:
    rng = np.random.default_rng(0)
    counts, estimates = [], []
    for objects in (1, 4, 9, 25, 49, 100):
        counts.append(objects)
        estimates.append(estimate_objects(_scene(objects, rng, side=200)))
    rho = spearmanr(counts, estimates).statistic
    assert rho >= 0.9, (counts, estimates)
    # Calibrated against the true counts, the estimate is within a factor 2 on these scenes.
    scale = fit_scale(np.array(estimates), np.array(counts, float))
    ratio = scale * np.array(estimates) / np.array(counts)
    assert np.median(np.abs(np.log2(ratio))) < 1.0, ratio


def test_scale_is_linear_and_fit_recovers_it() -> None:
    image = _scene(9, np.random.default_rng(1))
    assert estimate_objects(image, scale=2.5) == pytest.approx(2.5 * estimate_objects(image))
    est = np.array([10.0, 20.0, 40.0])
    assert fit_scale(est, 3 * est) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        fit_scale(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="expected"):
        estimate_objects(np.zeros((8, 8), np.uint8))
