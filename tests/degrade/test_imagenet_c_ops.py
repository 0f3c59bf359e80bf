"""ImageNet-C's brightness and motion trail, on inputs whose answer is known (the reference
code itself is compared in test_imagenet_c_reference.py when imagecorruptions is installed)."""

from __future__ import annotations

import contextlib
import math

import pytest
import torch
from kornia.color import rgb_to_hsv

import degrade.ops as D
from degrade._checks import forced_gpu_path


def test_brightness_raises_hsv_value_and_keeps_hue_and_saturation() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.9 + 0.05
    shift = torch.tensor([0.2, 0.5])
    y = D.brightness(x, shift)
    hx, hy = rgb_to_hsv(x), rgb_to_hsv(y)  # (B, 3, H, W): hue (radians), saturation, value
    want_v = (hx[:, 2] + shift[:, None, None]).clamp(max=1)
    torch.testing.assert_close(hy[:, 2], want_v, atol=1e-6, rtol=0)
    torch.testing.assert_close(hy[:, 1], hx[:, 1], atol=1e-5, rtol=0)
    dh = (hy[:, 0] - hx[:, 0] + math.pi) % (2 * math.pi) - math.pi  # hue is an angle
    assert float(dh.abs().max()) < 1e-4


def test_brightness_turns_black_into_grey_and_one_channel_adds() -> None:
    black = torch.zeros(1, 3, 8, 8)
    assert torch.allclose(D.brightness(black, 0.3), torch.full_like(black, 0.3))
    grey = torch.full((1, 1, 8, 8), 0.9)
    assert torch.allclose(D.brightness(grey, 0.3), torch.ones_like(grey))


@pytest.mark.parametrize("gpu", [False, True])
def test_motion_trail_of_a_point_is_a_one_sided_gaussian_trail(gpu: bool) -> None:
    # at angle 0 the output at p sums w_i x(p + (0, i)): a bright point leaves its trail on
    # its left, tap i = 0 (the point itself) the heaviest
    radius, sigma = 5, 2.0
    x = torch.zeros(1, 3, 48, 48)
    x[..., 24, 30] = 1.0
    with forced_gpu_path() if gpu else contextlib.nullcontext():  # kornia, else OpenCV
        y = D.motion_trail(x, radius, sigma, 0.0)
    w = torch.exp(-(torch.arange(2 * radius + 1.0) ** 2) / (2 * sigma**2))
    w /= w.sum()
    row = y[0, 0, 24]
    torch.testing.assert_close(row[30 - 2 * radius : 31].flip(0), w, atol=1e-6, rtol=0)
    assert float(y.sum(dim=(2, 3)).sub(1).abs().max()) < 1e-5  # nothing lost, nothing added
    assert float(y[0, 0, 24, 31:].abs().max()) == 0 and float(y[0, 0, :24].abs().max()) == 0


def test_motion_trail_keeps_a_flat_image_at_the_borders() -> None:
    # replicated borders (the reference's shifts copy the edge): a flat image stays flat
    x = torch.full((2, 3, 32, 40), 0.6)
    y = D.motion_trail(
        x, torch.tensor([10, 20]), torch.tensor([3.0, 15.0]), torch.tensor([-30.0, 45.0])
    )
    torch.testing.assert_close(y, x, atol=1e-6, rtol=0)
