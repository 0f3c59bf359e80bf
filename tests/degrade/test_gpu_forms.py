"""The GPU forms of the ops must compute what the CPU forms do.

On the ``cpu`` device they run on CPU tensors: CI has no GPU, so without this the whole-batch
forms (kornia filters, resize matrices, warps) would only ever run on a lent machine.
``forced_gpu_path()`` makes every op take them. On ``cuda`` (``-m gpu``) CUDA tensors take
them by themselves.
"""

from __future__ import annotations

import contextlib
import importlib

import pytest
import torch

import degrade
from degrade._checks import forced_gpu_path


def gpu_forms(device: torch.device) -> contextlib.AbstractContextManager[None]:
    """Where the GPU forms run on ``device``: forced on CPU tensors, by themselves on CUDA."""
    return forced_gpu_path() if device.type == "cpu" else contextlib.nullcontext()


@pytest.mark.parametrize("op", degrade.list_ops())
def test_op_gpu_form_matches_cpu_form(op: str, photos: torch.Tensor, device) -> None:
    # levels 1, 3, 5: different values per sample, so grouped forms split and reassemble
    _, params = degrade.apply(photos, op, level=torch.tensor([1, 3, 5]), return_params=True)
    spec = degrade.get_op(op)
    y_cpu = spec.run(photos, params)
    with gpu_forms(device):
        y_gpu = spec.run(photos.to(device), params).cpu()
    assert y_gpu.shape == y_cpu.shape
    error = (y_gpu - y_cpu).abs()
    if device.type == "cpu":
        assert float(error.mean()) <= 1e-4, op
        assert float(error.max()) <= 2e-3, op
        return
    # CUDA: random ops draw from per-device generators, so only the deterministic ones compare
    if any(p.kind == "seed" for p in spec.params):
        return
    if op == "jpeg":  # nvjpeg's encoder is not libjpeg: the same quality, not the same bytes
        err_gpu, err_cpu = (float((y - photos).abs().mean()) for y in (y_gpu, y_cpu))
        assert err_gpu > 0 and abs(err_gpu - err_cpu) <= 0.4 * err_cpu
        assert float(error.mean()) <= 8 / 255
        return
    assert float(error.mean()) <= (2 / 255 if op.startswith("jpeg") else 1e-4), op


@pytest.mark.parametrize(
    "ops",
    [
        ["gaussian_blur", "sharpen", "gaussian_blur"],
        ["color_jitter", "color_space_transform", "color_jitter"],
        ["iso_gaussian_blur", "aniso_gaussian_blur", "sinc_blur"],
    ],
)
def test_mixed_joint_calls_gpu_form_matches_cpu_form(
    ops: list[str], photos: torch.Tensor, device
) -> None:
    """A call mixing members of one joint form computes in its GPU form what it computes in
    its CPU form."""
    from degrade.registry import run_call, sample_rngs

    rngs = sample_rngs(len(ops), torch.Generator().manual_seed(0))
    values = [
        {"op": o, "level": 3, **degrade.get_op(o).sample(r, 3)}
        for o, r in zip(ops, rngs, strict=True)
    ]
    y_cpu = run_call(photos, values)
    with gpu_forms(device):
        y_gpu = run_call(photos.to(device), values).cpu()
    assert float((y_gpu - y_cpu).abs().mean()) <= 1e-4


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
