"""Objects per image: exact from SA-1B annotations, estimated elsewhere from the pixels.

Two estimators, on the same scale:

``felzenszwalb`` (the reference) counts the regions of a Felzenszwalb-Huttenlocher graph
segmentation (``skimage.segmentation.felzenszwalb``, ``scale=100``, ``sigma=0.8``) of the
image shrunk to a 256-pixel long side, counting only regions of at least 0.1 % of the image
(speckle is not an object). It costs several full-image decodes per image.

``edges`` (the default) reads the same structure from a 128-pixel colour-edge map: pixels
whose smoothed RGB neighbour distance exceeds ``EDGE_THRESHOLD`` are edges; the estimate is
``w_regions * (edge-bounded regions >= 0.1 % of the image) + w_edges * (edge fraction)``:
flat objects count as their regions, textured areas as their edge area divided by a typical
segment size. The weights are the least-squares fit of the reference count on the built-in
photos (:func:`fit_edge_weights`), so the two estimators share one scale; the agreement on
real photos is in ``docs/results.md`` and checked by ``tests/curate/test_richness.py``.

Calibration to SA-1B: SA-1B averages ~100 masks per image (1.1 B masks / 11 M images) and
its masks include parts and background "stuff", so region counts and mask counts live on
the same kind of scale. ``scale`` maps one onto the other: on SA-1B data, run curate on a
sample with ``source='sa1b'`` (which records the exact count ``objects``) and the estimate
side by side (:func:`estimate_objects` on the same images), then :func:`fit_scale`. No SA-1B
data is reachable offline, so the shipped default ``scale = 1.0`` is the identity, checked on
synthetic SA-1B-style scenes instead (``tests/curate/test_richness.py``: k flat coloured
blobs, one "mask" each, on a smooth noisy background): both estimators are monotonic in the
true count and within a factor 2 of it after fitting ``scale``. Refit ``scale`` on a few
hundred real SA-1B images before comparing thresholds with SA-1B counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

Method = Literal["edges", "felzenszwalb"]
METHODS: tuple[str, ...] = ("edges", "felzenszwalb")

WORK_SIDE = 256
EDGE_SIDE = 128
MIN_AREA_FRACTION = 0.001
SIGMA = 0.8
#: RGB distance (0-255 units) between smoothed neighbours above which a pixel is an edge.
EDGE_THRESHOLD = 15.0
#: ``(w_regions, w_edges)``: :func:`fit_edge_weights` on the built-in photos.
EDGE_WEIGHTS = (0.41, 317.0)


def estimate_objects(rgb: np.ndarray, scale: float = 1.0, method: Method = "edges") -> float:
    """Estimated objects in an image.

    Args:
        rgb: ``(H, W, 3)`` uint8, any size (shrunk internally).
        scale: calibration factor (see module docstring).
        method: ``edges`` (fast, default) or ``felzenszwalb`` (the reference).

    Returns:
        ``scale`` times the estimate (at least 1: a flat image is one region).

    Example:
        >>> estimate_objects(np.zeros((64, 64, 3), np.uint8))
        1.0
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"estimate_objects: expected (H, W, 3), got {rgb.shape}")
    if method == "felzenszwalb":
        return float(scale * felzenszwalb_regions(rgb))
    if method != "edges":
        raise ValueError(f"estimate_objects: unknown method {method!r} (one of {METHODS})")
    regions, fraction = edge_features(rgb)
    w_regions, w_edges = EDGE_WEIGHTS
    return float(scale * max(1.0, w_regions * regions + w_edges * fraction))


def felzenszwalb_regions(rgb: np.ndarray) -> int:
    """Regions >= 0.1 % of the image in a Felzenszwalb segmentation at 256 px (reference)."""
    from skimage.segmentation import felzenszwalb

    h, w = rgb.shape[:2]
    step = max(1, int(np.ceil(max(h, w) / WORK_SIDE)))
    small = rgb[::step, ::step]
    min_size = max(4, int(MIN_AREA_FRACTION * small.shape[0] * small.shape[1]))
    labels = felzenszwalb(small, scale=100.0, sigma=SIGMA, min_size=min_size)
    return int(np.count_nonzero(np.bincount(labels.ravel()) >= min_size))


def edge_features(rgb: np.ndarray) -> tuple[int, float]:
    """Edge-bounded regions >= 0.1 % of the image and the edge fraction, at 128 px.

    Args:
        rgb: ``(H, W, 3)`` uint8.

    Returns:
        ``(regions, edge_fraction)``: 4-connected non-edge components of at least
        ``MIN_AREA_FRACTION`` of the pixels, and the share of edge pixels in ``[0, 1]``.
    """
    h, w = rgb.shape[:2]
    factor = EDGE_SIDE / max(h, w)
    if factor < 1:
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), SIGMA)
    dx = np.diff(smooth, axis=1)
    dy = np.diff(smooth, axis=0)
    limit = EDGE_THRESHOLD**2
    edge = np.zeros(smooth.shape[:2], bool)
    edge[:, :-1] |= np.einsum("hwc,hwc->hw", dx, dx) > limit
    edge[:-1] |= np.einsum("hwc,hwc->hw", dy, dy) > limit
    _, _, stats, _ = cv2.connectedComponentsWithStats((~edge).view(np.uint8), connectivity=4)
    min_size = max(4, int(MIN_AREA_FRACTION * edge.size))
    regions = int(np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_size))
    return regions, float(edge.mean())


def fit_edge_weights(images: Sequence[np.ndarray]) -> tuple[float, float]:
    """Least-squares ``(w_regions, w_edges)`` so that the ``edges`` estimate matches the
    ``felzenszwalb`` count on ``images`` (each ``(H, W, 3)`` uint8, long side <= 256)."""
    if len(images) < 2:
        raise ValueError("fit_edge_weights: need at least two images")
    features = np.array([edge_features(im) for im in images], np.float64)
    counts = np.array([felzenszwalb_regions(im) for im in images], np.float64)
    weights = np.linalg.lstsq(features, counts, rcond=None)[0]
    return float(weights[0]), float(weights[1])


def fit_scale(estimates: np.ndarray, counts: np.ndarray) -> float:
    """Least-squares ``scale`` (through the origin) so that ``scale * estimates ~ counts``.

    Args:
        estimates: ``(N,)`` estimates made with ``scale=1``.
        counts: ``(N,)`` exact object counts (SA-1B ``len(annotations)``).
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    if estimates.shape != counts.shape or estimates.size == 0:
        raise ValueError("fit_scale: need two non-empty arrays of the same shape")
    denom = float(estimates @ estimates)
    if denom == 0:
        raise ValueError("fit_scale: all estimates are zero")
    return float(estimates @ counts) / denom
