"""Outputs of any library on one scale, and how far apart two outputs are."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qpt.speed.peer_outputs import (
    AGREE_DB,
    SAME_DB,
    agreement,
    as_nchw255,
    computes_the_same,
    describe,
)


def test_every_kind_lands_on_the_same_scale_and_layout() -> None:
    u8 = torch.randint(
        0, 256, (2, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    ref = u8.double().numpy()
    hwc8 = [im.permute(1, 2, 0).numpy() for im in u8]
    hwc_unit = [a.astype(np.float32) / 255 for a in hwc8]
    assert np.array_equal(as_nchw255(u8, "batch", "uint8"), ref)
    np.testing.assert_allclose(as_nchw255(u8.float() / 255, "batch", "float"), ref, atol=1e-4)
    assert np.array_equal(as_nchw255(hwc8, "hwc", "uint8"), ref)
    np.testing.assert_allclose(as_nchw255(hwc_unit, "hwc", "float"), ref, atol=1e-4)
    # 0..255 whatever the input type: imagecorruptions' arrays and PIL's pixels
    assert np.array_equal(as_nchw255([a.astype(np.float64) for a in hwc8], "hwc255", "float"), ref)
    assert np.array_equal(as_nchw255(hwc8, "pil", "uint8"), ref)


def test_agreement_is_psnr_and_largest_difference() -> None:
    a = np.zeros((1, 1, 2, 2))
    same = agreement(a, a.copy())
    assert same == {"psnr_db": SAME_DB, "max_abs": 0.0}
    assert describe(same) == "same" and computes_the_same(same)
    b = a.copy()
    b[0, 0, 0, 0] = 4.0  # mse 4: 10 log10(255^2 / 4)
    d = agreement(a, b)
    assert d["psnr_db"] == pytest.approx(10 * math.log10(255**2 / 4))
    assert d["max_abs"] == 4.0
    assert describe(d) == f"{d['psnr_db']:.1f} dB" and computes_the_same(d)
    tiny = agreement(a, a + 1e-6)  # float rounding: capped, not "same"
    assert tiny["psnr_db"] == SAME_DB and describe(tiny) == f"{SAME_DB:.0f}+ dB"
    far = agreement(a, a + 40.0)  # 16.1 dB: another computation
    assert far["psnr_db"] < AGREE_DB and computes_the_same(far) is False


def test_other_shape_and_random_ops_are_named_not_measured() -> None:
    other = agreement(np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 224, 224)))
    assert other == {"shape": [3, 224, 224]}
    assert describe(other) == "other size" and computes_the_same(other) is False
    assert describe(None) == "random" and computes_the_same(None) is None
