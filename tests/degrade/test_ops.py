"""Per-op tests in the kornia spirit, parametrised over every registered op: smoke, shape /
dtype / device kept, per-sample independence, determinism, replay through the functional form,
module form, bad arguments, and monotone severities on a real photo."""

from __future__ import annotations

import pytest
import torch

import degrade
import degrade.ops
from degrade import registry

OPS = degrade.list_ops()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / ((a.double() - b.double()) ** 2).mean()))


def test_registry_holds_kadid_imagenet_c_realesrgan_ops_with_five_levels() -> None:
    """The 25 KADID-10k distortions, the ImageNet-C corruptions beyond them and Real-ESRGAN's
    second-order ops are registered under their tags; every numeric parameter with levels has
    five (KADID's and ImageNet-C's severities)."""
    assert len(degrade.list_ops("kadid")) == 25
    incs = {"shot_noise", "defocus_blur", "glass_blur", "zoom_blur", "fog", "snow", "frost"}
    incs |= {"spatter", "elastic", "saturate", "speckle_noise"}
    assert incs <= set(degrade.list_ops("imagenet-c"))
    re = {"iso_gaussian_blur", "aniso_gaussian_blur", "generalized_gaussian_blur", "plateau_blur"}
    re |= {"sinc_blur", "resize", "gaussian_noise", "gray_gaussian_noise", "poisson_noise", "jpeg"}
    assert re <= set(degrade.list_ops("realesrgan"))
    for name in OPS:
        spec = degrade.get_op(name)
        for p in spec.params:
            if p.kind in ("float", "int") and p.levels:
                assert len(p.levels) == 5, (name, p.name)


@pytest.mark.parametrize("op", OPS)
def test_op_contract(op: str, photos: torch.Tensor) -> None:
    """Shape/dtype kept, [0, 1], per-sample values used independently, deterministic."""
    spec = degrade.get_op(op)
    g = torch.Generator().manual_seed(0)
    levels = torch.tensor([1, 3, 5])
    y, params = degrade.apply(photos, op, level=levels, generator=g, return_params=True)
    assert y.shape == photos.shape and y.dtype == photos.dtype
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert not torch.equal(y, photos)
    # same generator state -> same output
    y2 = degrade.apply(photos, op, level=levels, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y2)
    # each sample = the functional form on that sample alone with its recorded values
    for i in range(len(photos)):
        yi = spec.fn(photos[i : i + 1], **params[i]).clamp(0, 1)
        torch.testing.assert_close(yi[0], y[i], atol=2e-5, rtol=0)


@pytest.mark.parametrize("op", OPS)
def test_op_uint8_and_float64(op: str, photos: torch.Tensor) -> None:
    """uint8 in: the float result on ``u8 / 255``, rounded to 8 bits (exactly, or to one grey
    level for the ops with a uint8 form of their own, as the README says); float64 in: the
    float32 result to float rounding (random ops draw the same noise in both)."""
    u8 = (photos[:1] * 255).round().to(torch.uint8)
    x32 = u8.float() / 255
    y32 = degrade.apply(x32, op, level=3, generator=torch.Generator().manual_seed(0))
    y = degrade.apply(u8, op, level=3, generator=torch.Generator().manual_seed(0))
    assert y.dtype == torch.uint8 and y.shape == u8.shape
    rounded = (y32 * 255).round().to(torch.uint8)
    if op in registry._UINT8:
        assert (y.int() - rounded.int()).abs().max() <= 1
    else:
        assert torch.equal(y, rounded)
    y64 = degrade.apply(x32.double(), op, level=3, generator=torch.Generator().manual_seed(0))
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64.float(), y32, atol=1e-5, rtol=0)


@pytest.mark.parametrize("op", OPS)
def test_op_monotone_severity(op: str, photo: torch.Tensor) -> None:
    """Higher level, lower PSNR against the clean image (same generator seed per level)."""
    x = photo[..., 16:112, 8:120]
    ps = [
        psnr(degrade.apply(x, op, level=lv, generator=torch.Generator().manual_seed(0)), x)
        for lv in range(1, 6)
    ]
    assert all(a > b for a, b in zip(ps, ps[1:], strict=False)), [round(p, 2) for p in ps]


@pytest.mark.parametrize("op", OPS)
def test_module_form(op: str, photos: torch.Tensor) -> None:
    spec = degrade.get_op(op)
    cls = degrade.RandomOp(op, level=(1, 5), p=0.5)
    y = cls(photos, generator=torch.Generator().manual_seed(2))
    assert y.shape == photos.shape
    assert len(cls.last_params) == len(photos)
    for i, v in enumerate(cls.last_params):
        if v is None:
            assert torch.equal(y[i], photos[i])
        else:
            assert set(v) == {p.name for p in spec.params}
    named = [
        c for c in vars(degrade.ops).values() if isinstance(c, type) and getattr(c, "op", "") == op
    ]
    assert named, f"no module class for {op} in degrade.ops"
    m = named[0](level=2)
    assert m(photos).shape == photos.shape


@pytest.mark.parametrize("op", OPS)
def test_op_bad_params(op: str, photos: torch.Tensor) -> None:
    spec = degrade.get_op(op)
    numeric = [p for p in spec.params if p.kind in ("float", "int")]
    if not numeric:
        pytest.skip("no numeric parameter")
    kw = {p.name: (p.levels[0] if p.levels else p.low) for p in numeric}
    kw.update({p.name: p.choices[0] for p in spec.params if p.kind == "choice"})
    kw[numeric[0].name] = torch.ones(len(photos) + 1)
    with pytest.raises(ValueError, match=op):
        spec.fn(photos, **kw)
    kw[numeric[0].name] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        spec.fn(photos, **kw)
    kw[numeric[0].name] = numeric[0].low
    with pytest.raises(ValueError, match=op):
        spec.fn(photos, **kw, not_a_param=1)
    choice = [p for p in spec.params if p.kind == "choice"]
    if choice:
        with pytest.raises(ValueError, match="must be one of"):
            spec.fn(photos, **{**kw, choice[0].name: "nope"})


def test_param_ranges_sample_inside(photos: torch.Tensor) -> None:
    for op in OPS:
        spec = degrade.get_op(op)
        _, params = degrade.apply(
            photos, op, generator=torch.Generator().manual_seed(1), return_params=True
        )
        for v in params:
            for p in spec.params:
                if p.kind in ("float", "int"):
                    assert p.low - 1e-9 <= v[p.name] <= p.high + 1e-9, (op, p.name)


def test_jpeg_differentiable_has_gradients(photos: torch.Tensor) -> None:
    x = photos.clone().requires_grad_(True)
    y = degrade.ops.jpeg_differentiable(x, 40.0)
    y.mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def _bound_kwargs(spec: degrade.OpSpec) -> dict:
    """Valid values for every non-seed parameter (level 1, or the range's low end)."""
    kw = {p.name: (p.levels[0] if p.levels else p.low) for p in spec.params}
    kw.update({p.name: p.choices[0] for p in spec.params if p.kind == "choice"})
    kw.update({p.name: 0 for p in spec.params if p.kind == "seed"})
    return kw


@pytest.mark.parametrize("op", OPS)
def test_functional_form_checks_the_registered_ranges(op: str) -> None:
    """Each numeric parameter: both ends of its accepted range (its sampling range, or its
    wider limits) accepted, just outside them refused with one ValueError naming the op, the
    parameter, the value and the range."""
    spec = degrade.get_op(op)
    numeric = [p for p in spec.params if p.kind in ("float", "int")]
    if not numeric:
        pytest.skip("no numeric parameter")
    side = max(16, spec.min_size)
    x = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    for p in numeric:
        low, high = p.accepted
        step = 1 if p.kind == "int" else 1e-6 * max(1.0, abs(low), abs(high))
        for ok in (low, high):
            y = spec.fn(x, **{**_bound_kwargs(spec), p.name: ok})
            assert y.shape == x.shape
        for bad in (low - step, high + step):
            kw = {**_bound_kwargs(spec), p.name: bad}
            with pytest.raises(ValueError, match=rf"^{op}: {p.name}=.* outside .*range") as e:
                spec.fn(x, **kw)
            assert f"[{low:g}, {high:g}]" in str(e.value)
            # the same value as a tensor, one per sample
            with pytest.raises(ValueError, match=rf"^{op}: {p.name}="):
                spec.fn(x, **{**kw, p.name: torch.tensor([float(bad)])})


def test_a_float32_value_at_the_range_end_is_accepted_with_a_float64_batch() -> None:
    """``tensor([0.8])`` is 0.800000012 in float32, and stays so cast to a float64 batch: the
    check allows the rounding of the value's own dtype, not only the batch's."""
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = degrade.ops.snow(x, amount=torch.tensor([0.8]), angle=torch.tensor([-90.0]), seed=0)
    assert y.dtype == torch.float64
    with pytest.raises(ValueError, match="snow: amount="):
        degrade.ops.snow(x, amount=torch.tensor([0.801]), angle=torch.tensor([-90.0]), seed=0)


@pytest.mark.parametrize(
    ("op", "kw"),
    [
        ("gaussian_blur", {"sigma": -1.0}),
        ("jpeg", {"quality": 0}),
        ("jpeg", {"quality": 500}),
        ("jpeg_differentiable", {"quality": 500.0}),
    ],
)
def test_out_of_range_values_from_the_field_are_refused(op: str, kw: dict) -> None:
    x = torch.rand(2, 3, 16, 16)
    with pytest.raises(ValueError, match=rf"{op}: {next(iter(kw))}="):
        degrade.get_op(op).fn(x, **kw)
    with pytest.raises(ValueError, match=rf"{op}: {next(iter(kw))}="):
        degrade.apply(x, op, **kw)


@pytest.mark.parametrize("op", OPS)
def test_requires_grad_input_gets_a_gradient_or_a_value_error(op: str, photos: torch.Tensor):
    """Through every entry point: differentiable ops pass a finite, non-zero gradient to the
    input; the others (codecs, rounding, Poisson draws, in-place fast paths) refuse it."""
    spec = degrade.get_op(op)
    kw = {p.name: p.sample(__import__("random").Random(0), 3) for p in spec.params}
    x = photos[:2].clamp(0.02, 0.98).clone().requires_grad_(True)
    if not spec.differentiable:
        for call in (
            lambda: spec.fn(x, **kw),
            lambda: degrade.apply(x, op, level=3),
            lambda: degrade.RandomOp(op, level=3)(x),
        ):
            with pytest.raises(ValueError, match=rf"^{op}: not differentiable"):
                call()
        return
    for y in (spec.fn(x, **kw), degrade.apply(x, op, level=3), degrade.RandomOp(op, level=3)(x)):
        (grad,) = torch.autograd.grad(y.sum(), x)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_a_non_differentiable_op_refuses_a_parameter_that_requires_grad(photos: torch.Tensor):
    q = torch.tensor(30.0, requires_grad=True)
    with pytest.raises(ValueError, match="^jpeg: not differentiable"):
        degrade.ops.jpeg(photos, quality=q)


def test_degrader_refuses_inputs_that_require_grad(photos: torch.Tensor) -> None:
    d = degrade.Degrader("qpt-v2")
    with pytest.raises(ValueError, match=r"^Degrader\(qpt-v2\): not differentiable"):
        d(photos.clone().requires_grad_(True))


@pytest.mark.parametrize(
    ("op", "kw"),
    [
        ("gaussian_blur", {"sigma": 1.3}),
        ("contrast_change", {"factor": 0.6}),
        ("resize", {"scale": 0.6, "mode": "bilinear"}),
        ("color_jitter", {"brightness": 0.05, "contrast": 0.9, "saturation": 0.8, "hue": 0.02}),
    ],
)
def test_gradcheck_of_differentiable_ops_in_float64(op: str, kw: dict) -> None:
    """The analytic gradient equals finite differences (values kept inside (0, 1), so that the
    final clamp does not cut the function)."""
    x = (0.3 + 0.4 * torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))).double()
    fn = degrade.get_op(op).fn
    assert torch.autograd.gradcheck(
        lambda t: fn(t, **kw), (x.requires_grad_(True),), eps=1e-6, atol=1e-5
    )


@pytest.mark.parametrize(
    ("op", "name", "values"),
    [
        ("gaussian_noise", "sigma", (0.08, 0.12, 0.18, 0.26, 0.38)),  # ImageNet-C's c
        ("contrast_change", "factor", (0.4, 0.3, 0.2, 0.1, 0.05)),
        ("impulse_noise", "amount", (0.03, 0.06, 0.09, 0.17, 0.27)),
        ("gaussian_blur", "sigma", (1, 2, 3, 4, 6)),
        ("jpeg", "quality", (25, 18, 15, 10, 7)),
    ],
)
def test_imagenet_c_severity_values_are_accepted(op: str, name: str, values: tuple) -> None:
    """ImageNet-C's values for the ops it shares with KADID pass the range check (its
    severities are reached by passing them), and the sampling range stays degrade's own."""
    x = torch.rand(len(values), 3, 32, 32, generator=torch.Generator().manual_seed(0))
    y = degrade.get_op(op).fn(x, **{name: torch.tensor(values)}, **_seed_kwargs(op, len(values)))
    assert y.shape == x.shape
    (p,) = [q for q in degrade.get_op(op).params if q.name == name]
    assert p.accepted[0] <= min(values) and max(values) <= p.accepted[1]


def _seed_kwargs(op: str, b: int) -> dict:
    spec = degrade.get_op(op)
    return {p.name: torch.arange(b) for p in spec.params if p.kind == "seed"}


def test_a_variant_checks_its_own_severity_table() -> None:
    """A variant (another collection's levels for an op, as ``speckle_noise`` is
    ``multiplicative_noise`` at ImageNet-C's) accepts its own levels beyond the base op's
    range: its functional form used to check the base op's."""
    from degrade.registry import _REGISTRY, register_variant

    fn = register_variant("wide_noise", "multiplicative_noise", {"sigma": (0.7, 1.2)}, ())
    try:
        x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        assert fn(x, torch.tensor([0.7, 1.2]), torch.arange(2)).shape == x.shape
        with pytest.raises(ValueError, match="wide_noise: sigma=1.3"):
            fn(x, 1.3, torch.arange(2))
    finally:
        del _REGISTRY["wide_noise"]
    # the base's accepted limits travel with it: Gaussian noise accepts sigma up to 0.5
    fn = register_variant("calm_noise", "gaussian_noise", {"sigma": (0.01,) * 5}, ())
    try:
        x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        assert fn(x, 0.45, torch.arange(1)).shape == x.shape
    finally:
        del _REGISTRY["calm_noise"]


def test_an_op_that_returns_its_input_leaves_the_callers_tensor_alone() -> None:
    """Results are clamped in place only when the op made them: an impl returning its input
    gives a copy through every entry point, so writing into the result leaves the caller's
    tensor as it was."""
    from degrade.registry import _REGISTRY, Param, register

    register("passthrough_for_test", [Param("amount", (0.1,) * 5, 0.0, 1.0)], family="test")(
        lambda x, amount: x
    )
    try:
        x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        before = x.clone()
        for y in (
            degrade.apply(x, "passthrough_for_test", level=1),
            degrade.RandomOp("passthrough_for_test", level=1)(x),
            degrade.Degrader(degrade.Op("passthrough_for_test", level=1))(x)[0],
        ):
            assert torch.equal(y, before)
            y.zero_()
            assert torch.equal(x, before)
    finally:
        del _REGISTRY["passthrough_for_test"]


def test_a_result_marked_clamped_is_not_clamped_again() -> None:
    """A CPU form that marks its result in [0, 1] saves the clamp pass: the same tensor back."""
    from degrade import _cv
    from degrade.registry import clamped

    x, y = torch.rand(1, 3, 8, 8), torch.full((1, 3, 8, 8), 2.0)
    assert clamped(_cv.mark_clamped(y), x) is y  # a marked result is trusted as it is
    assert clamped(torch.full((1, 3, 8, 8), 2.0), x).max() == 1.0
