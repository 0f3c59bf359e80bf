"""Any device (``cpu`` always, ``cuda`` under ``-m gpu``): the device is kept, outputs are
deterministic per generator and replay exactly. How the GPU forms compare with the CPU forms
is in ``test_gpu_forms.py``."""

from __future__ import annotations

import pytest
import torch

import degrade


@pytest.mark.parametrize("preset", ["qpt-v2", "realesrgan", "kadid", "imagenet-c"])
def test_presets_keep_the_device_and_replay(
    preset: str, photos: torch.Tensor, device: torch.device
) -> None:
    x = photos.to(device)
    d = degrade.Degrader(preset)
    y, p = d(x, generator=torch.Generator(device=device).manual_seed(0))
    assert y.device == x.device and y.shape == x.shape
    y2, p2 = d(x, generator=torch.Generator(device=device).manual_seed(0))
    assert p == p2 and torch.equal(y, y2)
    assert torch.equal(d.replay(x, p), y)


def test_jpeg_of_mixed_qualities_keeps_each_sample_in_place(
    photos: torch.Tensor, device: torch.device
) -> None:
    """Encoded per quality (on CUDA: copied to the host in one piece), put back in batch
    order."""
    quality = torch.tensor([90, 10, 50])
    y = degrade.ops.jpeg(photos.to(device), quality).cpu()
    for i, q in enumerate(quality.tolist()):
        alone = degrade.ops.jpeg(photos[i : i + 1].to(device), q).cpu()
        assert torch.equal(y[i], alone[0])
    assert not torch.equal(y[0], y[1])  # the qualities differ, so would the bytes of a mix-up
