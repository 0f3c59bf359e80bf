"""uint8 in -> uint8 out: the ops with a uint8 CPU form (OpenCV's integer kernels, LUTs, the
codec) give the float form's result, rounded, to one grey level, with the same per-sample
values and seeds; without one (or on the GPU path) uint8 goes through the float form."""

from __future__ import annotations

import pytest
import torch

import degrade
import degrade.ops  # noqa: F401  (registers the uint8 forms)
from degrade._checks import forced_gpu_path
from degrade.registry import _UINT8


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


def _values(op: str, x: torch.Tensor) -> dict[str, list]:
    """Per-sample values of levels 1, 3, 5 (seeds included), as functional-form keywords."""
    g = torch.Generator().manual_seed(0)
    _, params = degrade.apply(x, op, level=torch.tensor([1, 3, 5]), generator=g, return_params=True)
    return {p.name: [v[p.name] for v in params] for p in degrade.get_op(op).params}


def test_the_issue_ops_have_uint8_forms() -> None:
    for op in (
        "gaussian_blur",
        "gaussian_noise",
        "jpeg",
        "contrast_change",
        "defocus_blur",
        "pixelate",
        "zoom_blur",
        "color_jitter",
        "sharpen",
        "motion_blur",
    ):
        assert op in _UINT8, op


@pytest.mark.parametrize("op", sorted(_UINT8))
def test_uint8_form_is_the_float_form_rounded(op: str, photos: torch.Tensor) -> None:
    u8 = _u8(photos)
    kw = _values(op, photos)
    fn = degrade.get_op(op).fn
    y8 = fn(u8, **kw)
    ref = fn(u8.float() / 255, **kw).mul(255).round()
    assert y8.dtype == torch.uint8 and y8.shape == u8.shape
    diff = (y8.float() - ref).abs()
    assert float(diff.max()) <= 1, op
    assert float(diff.mean()) <= 0.1, op
    assert not torch.equal(y8, u8), op  # the op did something


@pytest.mark.parametrize("op", ["gaussian_blur", "jpeg", "contrast_change", "pixelate"])
def test_uint8_forms_are_used_on_cpu_only(op: str, photos: torch.Tensor, monkeypatch) -> None:
    u8 = _u8(photos)
    kw = _values(op, photos)
    calls: list[str] = []
    real = _UINT8[op]
    monkeypatch.setitem(_UINT8, op, lambda *a, **k: calls.append(op) or real(*a, **k))
    degrade.get_op(op).fn(u8, **kw)
    assert calls == [op]
    with forced_gpu_path():
        y = degrade.get_op(op).fn(u8, **kw)
    assert calls == [op] and y.dtype == torch.uint8


def test_apply_takes_the_uint8_form_with_the_same_values(photos: torch.Tensor) -> None:
    u8 = _u8(photos)
    g = torch.Generator().manual_seed(5)
    y8, params = degrade.apply(u8, "gaussian_noise", level=3, generator=g, return_params=True)
    g = torch.Generator().manual_seed(5)
    yf, params_f = degrade.apply(
        u8.float() / 255, "gaussian_noise", level=3, generator=g, return_params=True
    )
    assert params == params_f
    assert y8.dtype == torch.uint8
    assert float((y8.float() - yf.mul(255).round()).abs().max()) <= 1


def test_pixelate_uint8_falls_back_when_the_factor_does_not_divide(photos: torch.Tensor) -> None:
    u8 = _u8(photos)  # 64 x 96: 5 divides neither
    y8 = degrade.ops.pixelate(u8, 5)
    ref = degrade.ops.pixelate(u8.float() / 255, 5).mul(255).round()
    assert y8.dtype == torch.uint8
    assert torch.equal(y8.float(), ref)


def test_float_input_keeps_its_dtype(photos: torch.Tensor) -> None:
    for op in sorted(_UINT8):
        y = degrade.get_op(op).fn(photos.double(), **_values(op, photos))
        assert y.dtype == torch.float64, op


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_pixelate_runs_of_equal_factors_give_each_sample_its_own_result(
    photos: torch.Tensor, dtype: torch.dtype
) -> None:
    # samples with one factor run as one tall image; factor 1 takes OpenCV's nearest
    # resize, 4 and 8 (uint8) spread each byte with a multiply
    x = photos.repeat(2, 1, 1, 1)[:4]
    x = _u8(x) if dtype == torch.uint8 else x
    factors = [4, 4, 1, 8]
    y = degrade.ops.pixelate(x, factors)
    for i, f in enumerate(factors):
        assert torch.equal(y[i : i + 1], degrade.ops.pixelate(x[i : i + 1], f))
    if dtype == torch.uint8:  # the float form, rounded, to one grey level
        ref = degrade.ops.pixelate(x.float() / 255, factors).mul(255).round()
        assert float((y.float() - ref).abs().max()) <= 1
    assert torch.equal(y[2], x[2])  # factor 1 leaves the image as it is
    blocks = y[3].float().unfold(1, 8, 8).unfold(2, 8, 8)  # (C, H/8, W/8, 8, 8)
    assert torch.equal(blocks.amax((-2, -1)), blocks.amin((-2, -1)))  # constant 8 x 8 blocks


def test_contrast_uint8_below_and_above_one(photos: torch.Tensor) -> None:
    # factors <= 1 take a multiply-add, > 1 a LUT that clips at 0 and 255
    u8 = _u8(photos)
    factors = [0.3, 1.0, 1.8]
    y8 = degrade.ops.contrast_change(u8, factors)
    ref = degrade.ops.contrast_change(u8.float() / 255, factors).mul(255).round()
    assert float((y8.float() - ref).abs().max()) <= 1
    assert torch.equal(y8[1], u8[1])
    assert int(y8[2].min()) == 0 or int(y8[2].max()) == 255  # the stretch reaches a bound


@pytest.mark.parametrize("factors", [[0.3, 0.75, 0.2], [1.8, 1.2, 1.0]])
def test_contrast_uint8_maps_the_same_with_and_without_stringzilla(
    photos: torch.Tensor, factors: list[float], monkeypatch
) -> None:
    # stringzilla's table (the 256 levels through the same multiply-add) or OpenCV on the image
    from degrade import _cv

    assert _cv.stringzilla_module() is not None  # a dependency: the fast map is the one run
    u8 = _u8(photos)
    fast = degrade.ops.contrast_change(u8, factors)
    monkeypatch.setattr(_cv, "stringzilla_module", lambda: None)
    assert torch.equal(fast, degrade.ops.contrast_change(u8, factors))


def test_stringzilla_without_translate_out_falls_back_to_opencv(monkeypatch) -> None:
    # releases before 5.3 raise SystemError (not TypeError) on translate's out=
    import sys
    import types

    from degrade import _cv

    def translate(*args: object, **kw: object) -> None:
        raise SystemError("<built-in function translate> returned a result with an exception set")

    monkeypatch.setitem(sys.modules, "stringzilla", types.SimpleNamespace(translate=translate))
    _cv.stringzilla_module.cache_clear()
    try:
        assert _cv.stringzilla_module() is None
    finally:
        _cv.stringzilla_module.cache_clear()


def test_contrast_uint8_groups_give_each_image_its_own_mean(
    photos: torch.Tensor, monkeypatch
) -> None:
    from degrade import _cv

    u8 = _u8(photos)
    whole = degrade.ops.contrast_change(u8, [0.4, 1.5, 0.7])
    monkeypatch.setattr(_cv, "GROUP_BYTES", 1)  # one image per group
    assert torch.equal(whole, degrade.ops.contrast_change(u8, [0.4, 1.5, 0.7]))
    for i, f in enumerate([0.4, 1.5, 0.7]):
        assert torch.equal(whole[i : i + 1], degrade.ops.contrast_change(u8[i : i + 1], f))


def test_contrast_uint8_means_of_huge_planes_do_not_overflow() -> None:
    # 255 on all but 1000 of 2049 x 4112 pixels: the sum passes 2^31, int32 sums would wrap
    x = torch.full((1, 1, 2049, 4112), 255, dtype=torch.uint8)
    x[0, 0, 0, :1000] = 0
    y = degrade.ops.contrast_change(x, 0.6)
    m = 255 * (x.numel() - 1000) / x.numel()  # the mean grey level
    assert int(y[0, 0, 0, 0]) == round(0.4 * m)
    assert int(y[0, 0, -1, -1]) == 255


def test_shot_noise_uint8_replays_the_float_forms_draws(photos: torch.Tensor) -> None:
    # the same scaled image, seed by seed, into the same sampler: not one count differs
    u8 = _u8(photos)
    photons, seed = torch.tensor([3.0, 12.0, 57.5]), torch.tensor([1, 2, 2**40])
    y8 = degrade.ops.shot_noise(u8, photons, seed=seed)
    ref = degrade.ops.shot_noise(u8.float() / 255, photons, seed=seed).mul(255).round()
    assert y8.dtype == torch.uint8 and torch.equal(y8.float(), ref)


@pytest.mark.parametrize("fast_map", [True, False])
@pytest.mark.parametrize(
    ("op", "values"),
    [("darken", [2.2, 2.2, 3.8]), ("brighten", [0.5, 0.28, 0.5]), ("mean_shift", [0.3, -0.2, 0.3])],
)
def test_point_ops_map_bytes_as_the_float_form_rounds(
    photos: torch.Tensor, op: str, values: list[float], fast_map: bool, monkeypatch
) -> None:
    # each sample's 256 levels through the float form, rounded: a table per sample (runs of
    # equal values share a call), through stringzilla or OpenCV's LUT
    from degrade import _cv

    if not fast_map:
        monkeypatch.setattr(_cv, "stringzilla_module", lambda: None)
    u8 = _u8(photos)
    fn = degrade.get_op(op).fn
    want = (fn(u8.float() / 255, values) * 255).round().to(torch.uint8)
    got = fn(u8, values)
    assert got.dtype == torch.uint8
    assert int((got.int() - want.int()).abs().max()) <= 1  # exp / log: vector vs scalar ulps
    assert float((got != want).float().mean()) < 1e-3


@pytest.mark.parametrize("op", degrade.list_ops())
def test_channels_last_batches_give_the_same_result(photos: torch.Tensor, op: str) -> None:
    # a (B, C, H, W) batch in channels-last memory (what stacking decoded HWC images as
    # permuted views gives) is the same batch: the CPU forms must not read or write its
    # planes as if they were contiguous
    for x in (_u8(photos), photos):
        cl = x.contiguous(memory_format=torch.channels_last)
        want = degrade.apply(x, op, level=3, generator=torch.Generator().manual_seed(0))
        got = degrade.apply(cl, op, level=3, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(got, want, atol=1e-5 if x.is_floating_point() else 0, rtol=0)
