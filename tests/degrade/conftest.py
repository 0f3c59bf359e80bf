"""Fixtures for degrade tests: a real photo (skimage astronaut) at small sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def photo() -> torch.Tensor:
    """skimage astronaut, area-resized to (1, 3, 128, 128) float in [0, 1]."""
    from skimage import data

    img = (
        torch.from_numpy(np.ascontiguousarray(data.astronaut())).permute(2, 0, 1)[None].float()
        / 255
    )
    return torch.nn.functional.interpolate(img, size=(128, 128), mode="area").clamp(0, 1)


@pytest.fixture(scope="session")
def photos(photo: torch.Tensor) -> torch.Tensor:
    """Three different real crops/flips of the photo: (3, 3, 64, 96)."""
    a = photo[..., 10:74, 0:96]
    b = photo[..., 40:104, 20:116].flip(-1)
    c = photo[..., 64:128, 32:128]
    return torch.cat([a, b, c]).contiguous()
