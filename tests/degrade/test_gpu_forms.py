"""The GPU forms of the ops, run on CPU tensors: they must compute what the CPU forms do.

CI has no GPU, so without this the whole-batch forms (kornia filters, resize matrices,
warps) would only ever run on a lent machine. ``forced_gpu_path()`` makes every op take them.
"""

from __future__ import annotations

import importlib

import pytest
import torch

import degrade
from degrade._checks import forced_gpu_path


@pytest.mark.parametrize("op", degrade.list_ops())
def test_op_gpu_form_matches_cpu_form(op: str, photos: torch.Tensor) -> None:
    # levels 1, 3, 5: different values per sample, so grouped forms split and reassemble
    _, params = degrade.apply(photos, op, level=torch.tensor([1, 3, 5]), return_params=True)
    spec = degrade.get_op(op)
    y_cpu = spec.run(photos, params)
    with forced_gpu_path():
        y_gpu = spec.run(photos, params)
    assert y_gpu.shape == y_cpu.shape
    assert float((y_gpu - y_cpu).abs().mean()) <= 1e-4, op
    assert float((y_gpu - y_cpu).abs().max()) <= 2e-3, op


@pytest.mark.parametrize("op", ["gaussian_blur", "resize", "lens_blur", "color_shift"])
def test_gpu_forms_are_taken(op: str, photos: torch.Tensor, monkeypatch) -> None:
    """Guard for the test above: forcing really switches the forms (no per-image or per-plane
    loop)."""
    import degrade._cpu_filters as cpu

    _, params = degrade.apply(photos, op, level=2, return_params=True)
    calls: list[int] = []
    real = cpu.per_image

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    for mod in (
        "degrade._linear",
        "degrade.ops.resize",
        "degrade.ops.kernel_blur",
        "degrade.ops.color",
    ):
        monkeypatch.setattr(importlib.import_module(mod), "per_image", spy)
    cv = importlib.import_module("degrade._cv")
    real_plane = cv.per_plane

    def spy_plane(*a, **k):
        calls.append(1)
        return real_plane(*a, **k)

    monkeypatch.setattr(cv, "per_plane", spy_plane)  # the OpenCV forms loop per image plane
    with forced_gpu_path():
        degrade.get_op(op).run(photos, params)
    assert calls == []
    degrade.get_op(op).run(photos, params)
    assert calls, "the CPU form should loop per image"


def _realesrgan_kernels() -> degrade.compose.Node:
    """Real-ESRGAN's kernels, resizes and Gaussian noises, twice. JPEG would turn float
    rounding into whole quantisation steps, and Poisson draws into whole counts, hiding
    what is compared here."""
    blur = degrade.presets.realesrgan().steps[0].steps[0]
    noise = degrade.OneOf((degrade.Op("gaussian_noise"), degrade.Op("gray_gaussian_noise")))
    return degrade.Repeat(degrade.Seq((blur, degrade.Op("resize"), noise)), times=(2, 2))


@pytest.mark.parametrize("preset", ["qpt-v2", "kadid", "realesrgan-kernels"])
def test_preset_gpu_forms_match_and_replay(preset: str, photos: torch.Tensor) -> None:
    x = photos.repeat(4, 1, 1, 1)  # 12 samples: several ops run on subsets of the batch
    d = degrade.Degrader(_realesrgan_kernels() if preset == "realesrgan-kernels" else preset)
    y_cpu, params = d(x, generator=torch.Generator().manual_seed(3))
    with forced_gpu_path():
        y_gpu, params_gpu = d(x, generator=torch.Generator().manual_seed(3))
        replayed = d.replay(x, params_gpu)
    assert params_gpu == params
    assert torch.equal(replayed, y_gpu)
    assert float((y_gpu - y_cpu).abs().mean()) <= 1e-4
