"""Resolution and aspect thresholds: at the threshold passes, one step past it is rejected."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.filters import laion_reason, resolution_reason
from curate.params import CurateParams
from curate.pipeline import curate

SIDE = CurateParams(min_short_side=256, min_pixels=0, max_aspect=None)
PIXELS = CurateParams(min_short_side=0, min_pixels=100_000, max_aspect=None)
ASPECT = CurateParams(min_short_side=0, min_pixels=0, max_aspect=3.0)

CASES = [  # params, width, height, reason
    (SIDE, 400, 255, "too_small"),  # just below
    (SIDE, 400, 256, ""),  # at
    (SIDE, 400, 257, ""),  # just above
    (SIDE, 255, 400, "too_small"),  # portrait: the short side is the width
    (PIXELS, 399, 250, "too_small"),  # 99 750
    (PIXELS, 400, 250, ""),  # 100 000 exactly
    (PIXELS, 401, 250, ""),  # 100 250
    (ASPECT, 899, 300, ""),  # 2.997
    (ASPECT, 900, 300, ""),  # 3.0 exactly
    (ASPECT, 901, 300, "bad_aspect"),  # 3.003
    (ASPECT, 300, 901, "bad_aspect"),  # portrait
]


@pytest.mark.parametrize(("params", "width", "height", "reason"), CASES)
def test_threshold_at_below_and_above(params, width, height, reason) -> None:
    assert resolution_reason(width, height, params) == reason
    # The LAION metadata pre-filter applies the same thresholds to WIDTH/HEIGHT.
    row = {"width": width, "height": height, "punsafe": None, "pwatermark": None}
    assert laion_reason(row, params) == reason


def test_thresholds_through_the_header_scan(tmp_path: Path) -> None:
    """The same decisions on real files: sizes read from PNG headers by the pipeline."""
    rng = np.random.default_rng(0)
    src = tmp_path / "imgs"
    src.mkdir()
    sizes = {
        "side_at": (512, 256),
        "side_below": (512, 255),
        "aspect_at": (768, 256),
        "aspect_above": (769, 256),
        "pixels_at": (400, 320),
        "pixels_below": (399, 320),
    }
    for name, (w, h) in sizes.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), np.uint8)).save(src / f"{name}.png")
    params = CurateParams(
        source="folder",
        path=src,
        min_short_side=256,
        min_pixels=128_000,
        max_aspect=3.0,
        richness=False,
        report=False,
        phash_radius=None,
    )
    curate(params, tmp_path / "out")
    rows = pq.read_table(tmp_path / "out/manifest.parquet").to_pylist()
    got = {Path(r["uri"]).stem: r["reason"] for r in rows}
    assert got == {
        "side_at": "",
        "side_below": "too_small",
        "aspect_at": "",
        "aspect_above": "bad_aspect",
        "pixels_at": "",
        "pixels_below": "too_small",
    }
