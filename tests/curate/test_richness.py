"""Richness estimate: grows with the number of objects; calibration fit; the fast ``edges``
estimator agrees with the ``felzenszwalb`` reference on real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr
from skimage.draw import ellipse

from curate.measure import DECODE_SIDE
from curate.richness import EDGE_WEIGHTS, METHODS, estimate_objects, fit_edge_weights, fit_scale
from curate.sources.builtin import base_photos
from qpt_base.images import decode_rgb


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


@pytest.mark.parametrize("method", METHODS)
def test_estimate_grows_with_object_count(method: str) -> None:
    rng = np.random.default_rng(0)
    counts, estimates = [], []
    for objects in (1, 4, 9, 25, 49, 100):
        counts.append(objects)
        estimates.append(estimate_objects(_scene(objects, rng, side=200), method=method))
    rho = spearmanr(counts, estimates).statistic
    assert rho >= 0.9, (counts, estimates)
    # Calibrated against the true counts, the estimate is within a factor 2 on these scenes.
    scale = fit_scale(np.array(estimates), np.array(counts, float))
    ratio = scale * np.array(estimates) / np.array(counts)
    assert np.median(np.abs(np.log2(ratio))) < 1.0, ratio


@pytest.mark.parametrize("method", METHODS)
def test_scale_is_linear_and_fit_recovers_it(method: str) -> None:
    image = _scene(9, np.random.default_rng(1))
    once = estimate_objects(image, method=method)
    assert estimate_objects(image, scale=2.5, method=method) == pytest.approx(2.5 * once)
    est = np.array([10.0, 20.0, 40.0])
    assert fit_scale(est, 3 * est) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        fit_scale(np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match="expected"):
        estimate_objects(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="unknown method"):
        estimate_objects(image, method="slic")  # type: ignore[arg-type]


def _agreement(images: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Spearman rho between the two estimators and the per-image ratio edges / reference."""
    fast = np.array([estimate_objects(im) for im in images])
    reference = np.array([estimate_objects(im, method="felzenszwalb") for im in images])
    return float(spearmanr(reference, fast).statistic), fast / reference


def _builtin_thumbnails() -> list[np.ndarray]:
    images = []
    for photo in base_photos().values():
        im = Image.fromarray(photo)
        im.thumbnail((DECODE_SIDE, DECODE_SIDE), Image.Resampling.BILINEAR)
        images.append(np.asarray(im))
    return images


def test_edge_weights_are_the_fit_on_builtin_photos() -> None:
    assert fit_edge_weights(_builtin_thumbnails()) == pytest.approx(EDGE_WEIGHTS, rel=0.05)
    with pytest.raises(ValueError, match="at least two"):
        fit_edge_weights(_builtin_thumbnails()[:1])


def test_edges_agree_with_felzenszwalb_on_builtin_photos() -> None:
    rho, ratio = _agreement(_builtin_thumbnails())
    assert rho >= 0.9 and 0.8 <= np.median(ratio) <= 1.25, (rho, ratio)


@pytest.mark.slow
def test_edges_agree_with_felzenszwalb_on_real_photos(shared_data: Path) -> None:
    files = sorted((shared_data / "photos").rglob("*.png"))
    assert len(files) >= 100
    images = [decode_rgb(f, max_side=DECODE_SIDE) for f in files]  # what curate measures
    rho, ratio = _agreement(images)
    # Fitted on the built-in photos only: these are held out.
    assert rho >= 0.9, rho
    assert 0.8 <= np.median(ratio) <= 1.25 and np.percentile(ratio, 90) <= 1.5, ratio
