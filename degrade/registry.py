"""The op registry: every degradation registered by name with its parameters, ranges and levels.

An op is a plain function ``impl(x, **params) -> Tensor`` on a float batch (B, C, H, W) in
[0, 1] whose parameters are *per sample*: numbers arrive as (B,) tensors on ``x``'s device,
choices as a list of B strings, seeds as a (B,) int64 CPU tensor. :func:`register` wraps it
into the public functional form (validation, uint8 handling, scalar broadcasting) and
records an :class:`OpSpec` so that modules, :func:`apply` and the :class:`~degrade.Degrader`
can sample its parameters from ranges or from severity levels 1-5.

Sampling is separate from application (kornia style): parameter values are drawn per sample
with a :class:`random.Random` seeded from the caller's ``torch.Generator``, so a batch is
deterministic for a given generator state and every sample's values are plain JSON.
"""

from __future__ import annotations

import functools
import inspect
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from degrade import _cv
from degrade._batch import index_groups, put_centred
from degrade._checks import (
    MIN_SIZE,
    check_batch,
    check_grad,
    from_float_,
    need_color,
    per_sample,
    restore_dtype,
    to_float,
)

ParamKind = Literal["float", "int", "seed", "choice"]
Level = int | Sequence[int] | Tensor | None

#: upper bound (exclusive) of per-sample noise seeds
SEED_MAX = 2**31


@dataclass(frozen=True)
class Param:
    """One per-sample parameter of an op.

    Attributes:
        name: keyword of the functional form.
        levels: value at severity 1..5 (empty for seeds and choices); monotone in damage.
        low, high: range the module form samples from when no level is asked.
        kind: ``float``, ``int``, ``seed`` (noise seed, always random) or ``choice``.
        choices: allowed strings for ``choice`` params.
        limits: the values the op accepts, where they reach beyond ``[low, high]`` (another
            collection's severities, e.g. ImageNet-C's); None: ``[low, high]``.
    """

    name: str
    levels: tuple[float, ...] = ()
    low: float = 0.0
    high: float = 1.0
    kind: ParamKind = "float"
    choices: tuple[str, ...] = ()
    limits: tuple[float, float] | None = None

    @property
    def accepted(self) -> tuple[float, float]:
        """The values the functional form accepts: ``limits``, else ``(low, high)``."""
        return self.limits if self.limits is not None else (self.low, self.high)

    def sample(self, rng: random.Random, level: int | None) -> Any:
        """Draw one value: from the level table, or uniformly from the range."""
        if self.kind == "seed":
            return rng.randrange(SEED_MAX)
        if self.kind == "choice":
            return rng.choice(self.choices)
        if level is not None and self.levels:
            v = self.levels[level - 1]
        else:
            v = rng.uniform(self.low, self.high)
        return self.value(v)

    def value(self, v: float) -> int | float:
        """``v`` as this parameter holds it: rounded for ``int``, a float otherwise."""
        return int(round(v)) if self.kind == "int" else float(v)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind in ("float", "int"):
            d.update(levels=list(self.levels), range=[self.low, self.high])
            if self.limits is not None:
                d["limits"] = list(self.limits)
        if self.choices:
            d["choices"] = list(self.choices)
        return d


def seed_param() -> Param:
    return Param("seed", kind="seed")


@dataclass(frozen=True)
class Joint:
    """A common form that several ops reduce to, so that one call runs a batch mixing them.

    ``form(x, **coefficients)`` applies per-sample coefficients to ``x`` (B, C, H, W). Each
    member op is registered with ``joint=(JOINT, coeffs)``: ``coeffs(**params)`` turns the
    op's per-sample values (host tensors: members are ``host=True`` ops) into those
    coefficients, (B, ...) CPU tensors; where members give different trailing sizes
    (kernels), :func:`run_call` zero-pads them around the centre. The
    :class:`~degrade.Degrader` schedules the members as one op (on a GPU each call costs
    about the same whatever its size); a call whose samples all draw the same op runs that
    op itself.

    Example: Gaussian blur is the unsharp mask ``lerp(blur(x), x, w)`` with ``w = 0``.
    """

    name: str
    form: Callable[..., Tensor]


@dataclass(frozen=True)
class OpSpec:
    """A registered op.

    Attributes:
        name: registry key (``gaussian_blur``).
        impl: unchecked float implementation (per-sample canonical params).
        fn: public functional form (checks, uint8, scalar params).
        params: its parameters, in signature order.
        family: ``blur``, ``noise``, ``color``, ``compression``, ``spatial``, ``weather``, ...
        tags: collections it belongs to (``kadid``, ``imagenet-c``, ``realesrgan``, ``qpt-v2``).
        color: needs RGB input.
        min_size: smallest H, W accepted.
        cpu_only: round-trips through a CPU codec (JPEG2000).
        host: the impl gets its per-sample values as CPU tensors, builds its small per-sample
            tensors (taps, colour matrices, sizes) on the host and copies each once: on CUDA
            that saves a kernel launch per tiny tensor op and a device sync per ``tolist``.
        joint: the :class:`Joint` this op can run in, with other ops, in one call.
        coeffs: the op's values -> the joint form's coefficients (with ``joint``).
        differentiable: gradients flow to ``x`` (on its GPU forms); otherwise an input or a
            parameter tensor that requires grad is refused with a ``ValueError``.
    """

    name: str
    impl: Callable[..., Tensor]
    fn: Callable[..., Tensor]
    params: tuple[Param, ...]
    family: str
    tags: frozenset[str] = field(default_factory=frozenset)
    color: bool = False
    min_size: int = MIN_SIZE
    cpu_only: bool = False
    doc: str = ""
    host: bool = False
    joint: Joint | None = None
    coeffs: Callable[..., dict[str, Tensor]] | None = None
    differentiable: bool = True

    @property
    def call_key(self) -> str:
        """Ops with the same key can share one call: the joint's name, or the op's own."""
        return self.joint.name if self.joint is not None else self.name

    def sample(
        self,
        rng: random.Random,
        level: int | None,
        fixed: dict[str, Any] | None = None,
        levels: dict[str, Sequence[float]] | None = None,
    ) -> dict[str, Any]:
        """Per-sample parameter values (JSON-serialisable). ``fixed`` pins values; ``levels``
        replaces parameters' severity tables (five values each) where a level is asked."""
        fixed, levels = fixed or {}, levels or {}
        out = {}
        for p in self.params:
            v = p.sample(rng, level)  # always draw, so fixing one value keeps the others' stream
            if level is not None and p.name in levels:
                v = p.value(levels[p.name][level - 1])
            out[p.name] = fixed.get(p.name, v)
        return out

    def canonical(self, values: Sequence[dict[str, Any]], x: Tensor) -> dict[str, Any]:
        """Stack B per-sample value dicts into the impl's canonical keyword arguments."""
        kw: dict[str, Any] = {}
        for p in self.params:
            col = [v[p.name] for v in values]
            kw[p.name] = _canon(p, col, x, self.name, self.host)
        return kw

    def run(self, x: Tensor, values: Sequence[dict[str, Any]]) -> Tensor:
        """Apply to a float batch with per-sample values; a new tensor, clamped to [0, 1]."""
        return clamped(self.impl(x, **self.canonical(values, x)), x)


def run_call(x: Tensor, values: Sequence[dict[str, Any]]) -> Tensor:
    """Run one scheduled call: ``values[i]`` are sample i's op (``"op"``) and its values; the
    ops are one op, or members of one :class:`Joint` (then run in its form, in one pass)."""
    specs = {name: get_op(name) for name in {v["op"] for v in values}}
    if len(specs) == 1:
        return next(iter(specs.values())).run(x, values)
    joints = {s.joint for s in specs.values()}
    if len(joints) != 1 or None in joints:
        raise ValueError(f"ops {sorted(specs)} cannot share one call")
    parts: list[tuple[list[int], dict[str, Tensor]]] = []
    for name, idx in index_groups([v["op"] for v in values]):
        # x[:n] stands in for the subset (canonical reads its size, dtype, device): a view
        kw = specs[name].canonical([values[j] for j in idx], x[: len(idx)])
        parts.append((idx, specs[name].coeffs(**kw)))  # type: ignore[misc]
    coefficients: dict[str, Tensor] = {}
    for key, first in parts[0][1].items():
        # members may give different trailing sizes (kernels): zero-padded around the centre
        shape = [max(c[key].shape[d] for _, c in parts) for d in range(1, first.ndim)]
        coefficients[key] = torch.zeros((len(values), *shape), dtype=first.dtype)
        for idx, c in parts:
            put_centred(coefficients[key], idx, c[key])
    return clamped(next(iter(joints)).form(x, **coefficients), x)  # type: ignore[union-attr]


def _canon(p: Param, v: Any, x: Tensor, op: str, host: bool = False) -> Any:
    b = x.shape[0]
    if p.kind == "choice":
        vals = [v] * b if isinstance(v, str) else list(v)
        if len(vals) != b:
            raise ValueError(f"{op}: '{p.name}' needs {b} values, got {len(vals)}")
        bad = [c for c in vals if c not in p.choices]
        if bad:
            raise ValueError(f"{op}: '{p.name}' must be one of {list(p.choices)}, got {bad[0]!r}")
        return vals
    if p.kind == "seed":
        t = torch.as_tensor(v, dtype=torch.int64).cpu()
        return t.expand(b).clone() if t.ndim == 0 else t
    t = per_sample(v, x, p.name, op, host)
    if p.kind == "int":
        t = t.round().to(torch.int64)
    _check_range(p, v, t, op)
    return t


def _check_range(p: Param, v: Any, t: Tensor, op: str) -> None:
    """Refuse values outside the accepted range (:attr:`Param.accepted`; ints after rounding).

    Plain numbers (the Degrader's path) are checked in Python, with no device sync; tensors
    with one ``aminmax``, to their dtype's rounding (``tensor(1.35)`` is 1.35000002).
    """
    low, high = p.accepted
    slack = 0.0
    if isinstance(v, (int, float)) or (
        isinstance(v, list) and all(type(f) in (float, int) for f in v)
    ):
        vals = v if isinstance(v, list) else [v]
        if p.kind == "int":
            vals = [round(f) for f in vals]
        lo, hi = min(vals), max(vals)
    else:
        lo, hi = torch.stack(torch.aminmax(t)).tolist()
        if t.is_floating_point():
            eps = torch.finfo(t.dtype).eps
            if isinstance(v, Tensor) and v.is_floating_point():  # float32 cast to a float64 image
                eps = max(eps, torch.finfo(v.dtype).eps)
            slack = eps * max(1.0, abs(low), abs(high))
    if lo < low - slack or hi > high + slack:
        bad = lo if lo < low else hi
        raise ValueError(f"{op}: {p.name}={bad:g} is outside the op's range [{low:g}, {high:g}]")


def _functional(
    name: str,
    impl: Callable[..., Tensor],
    params: Sequence[Param],
    color: bool,
    min_size: int,
    host: bool = False,
    differentiable: bool = True,
) -> Callable[..., Tensor]:
    """The public functional form of ``impl``: checks, uint8, scalar broadcasting, seeds."""
    sig = inspect.signature(impl)
    missing = [p.name for p in params if p.name not in sig.parameters]
    if missing:
        raise TypeError(f"op {name}: impl lacks params {missing}")

    @functools.wraps(impl)
    def fn(x: Tensor, *args: Any, generator: torch.Generator | None = None, **kwargs: Any):
        check_batch(x, name, min_size)
        if color:
            need_color(x, name)
        try:
            bound = sig.bind(x, *args, **kwargs)
        except TypeError as e:
            raise ValueError(f"{name}: {e}") from None
        bound.apply_defaults()
        check_grad(x, name, differentiable, bound.arguments.values())
        kw = {}
        for p in params:
            v = bound.arguments[p.name]
            if p.kind == "seed" and v is None:
                v = _draw_seeds(x.shape[0], generator)
            kw[p.name] = _canon(p, v, x, name, host)
        y = run_uint8(name, x, kw)
        if y is not None:
            return y
        xf = to_float(x)
        return finish(impl(xf, **kw), xf, x.dtype)

    return fn


def clamped(y: Tensor, xf: Tensor) -> Tensor:
    """An impl's float result ``y`` for input ``xf``, clamped to [0, 1] and not sharing memory
    with ``xf`` (an impl may return its input or a view of it): a clamped copy then, else
    ``y`` clamped in place, or as it is when the impl marked it clamped."""
    if y.untyped_storage().data_ptr() == xf.untyped_storage().data_ptr():
        return y.clamp(0.0, 1.0)
    return y if _cv.is_clamped(y) else y.clamp_(0.0, 1.0)


def finish(y: Tensor, xf: Tensor, dtype: torch.dtype) -> Tensor:
    """An impl's float result for input ``xf``, clamped (:func:`clamped`), in ``dtype``."""
    return from_float_(clamped(y, xf), dtype)


def pipeline_result(y: Tensor, xf: Tensor, dtype: torch.dtype) -> Tensor:
    """:func:`~degrade.compose.execute`'s result in ``dtype``: its ops' results are clamped
    already; ``xf`` itself (no sample had a step) comes back as a clamped copy."""
    return restore_dtype(y, dtype) if y is xf else from_float_(y, dtype)


#: CPU forms that take and return uint8 batches, by op name (see :func:`uint8_form`)
_UINT8: dict[str, Callable[..., Tensor | None]] = {}


def uint8_form(
    *names: str,
) -> Callable[[Callable[..., Tensor | None]], Callable[..., Tensor | None]]:
    """Decorator: ``form(x, **params)`` computes ops ``names`` on a CPU uint8 batch directly
    (OpenCV's integer kernels, LUTs, the codec), instead of a float round trip; it takes the
    op's canonical per-sample values and returns uint8 (B, C, H, W), or None where it does not
    apply (the float form then runs). Used by the functional form and :func:`apply` when
    :func:`degrade._cv.usable`; the result is the float form's, rounded, to a grey level.
    """

    def deco(form: Callable[..., Tensor | None]) -> Callable[..., Tensor | None]:
        for n in names:
            _UINT8[n] = form
        return form

    return deco


def run_uint8(op: str, x: Tensor, kw: dict[str, Any]) -> Tensor | None:
    """The uint8 form of ``op`` on ``x`` when there is one and ``x`` takes it, else None."""
    form = _UINT8.get(op)
    if form is None or x.dtype != torch.uint8 or not _cv.usable(x):
        return None
    return form(x, **kw)


_REGISTRY: dict[str, OpSpec] = {}


def register(
    name: str,
    params: Sequence[Param],
    family: str,
    tags: Sequence[str] = (),
    color: bool = False,
    min_size: int = MIN_SIZE,
    cpu_only: bool = False,
    host: bool = False,
    joint: tuple[Joint, Callable[..., dict[str, Tensor]]] | None = None,
    differentiable: bool = True,
) -> Callable[[Callable[..., Tensor]], Callable[..., Tensor]]:
    """Decorator: register ``impl`` under ``name`` and return its public functional form.

    The functional form takes ``x`` (B, C, H, W) float in [0, 1] or uint8 and the params as
    scalars or B values (seeds default to draws from ``generator``), and returns a batch of
    the same shape, dtype and device. ``host``, ``joint`` (a :class:`Joint` and the op's
    coefficient function), ``differentiable``: see :class:`OpSpec`.
    """
    if joint is not None and not host:
        raise TypeError(f"op {name}: a joint member builds its coefficients on the host")

    def deco(impl: Callable[..., Tensor]) -> Callable[..., Tensor]:
        fn = _functional(name, impl, params, color, min_size, host, differentiable)
        spec = OpSpec(
            name=name,
            impl=impl,
            fn=fn,
            params=tuple(params),
            family=family,
            tags=frozenset(tags),
            color=color,
            min_size=min_size,
            cpu_only=cpu_only,
            doc=(inspect.getdoc(impl) or "").split("\n")[0],
            host=host,
            joint=joint[0] if joint else None,
            coeffs=joint[1] if joint else None,
            differentiable=differentiable,
        )
        if name in _REGISTRY:
            raise KeyError(f"op {name!r} registered twice")
        _REGISTRY[name] = spec
        return fn

    return deco


def register_variant(
    name: str, base: str, levels: dict[str, tuple[float, ...]], tags: Sequence[str]
):
    """Register ``name`` as ``base`` with other severity tables (e.g. ImageNet-C's)."""
    spec = _REGISTRY[base]
    # the base's parameters with the variant's levels (every other field, limits too, kept)
    ps = tuple(
        replace(p, levels=t, low=min(p.low, *t), high=max(p.high, *t))
        if (t := levels.get(p.name)) is not None
        else p
        for p in spec.params
    )
    fn = _functional(name, spec.impl, ps, spec.color, spec.min_size, spec.host, spec.differentiable)
    # the base op's spec with the variant's name, form, parameters and tags: every other
    # field travels with it
    _REGISTRY[name] = replace(spec, name=name, fn=fn, params=ps, tags=frozenset(tags))
    return fn


def _draw_seeds(b: int, generator: torch.Generator | None) -> Tensor:
    dev = generator.device if generator is not None else "cpu"
    return torch.randint(0, SEED_MAX, (b,), generator=generator, device=dev).cpu()


def sample_rngs(b: int, generator: torch.Generator | None) -> list[random.Random]:
    """B independent Python RNGs seeded from ``generator`` (one draw of B seeds)."""
    dev = generator.device if generator is not None else "cpu"
    seeds = torch.randint(0, 2**62, (b,), generator=generator, device=dev).tolist()
    return [random.Random(s) for s in seeds]


def get_op(name: str) -> OpSpec:
    """The :class:`OpSpec` registered as ``name`` (``ValueError`` if unknown)."""
    _load_ops()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown op {name!r}; see degrade.list_ops()") from None


def list_ops(tag: str | None = None) -> list[str]:
    """Registered op names (sorted), optionally only those tagged ``tag`` (e.g. ``kadid``)."""
    _load_ops()
    return sorted(n for n, s in _REGISTRY.items() if tag is None or tag in s.tags)


def _load_ops() -> None:
    import degrade.ops  # noqa: F401  (registers everything on import)


def levels_of(level: Level, b: int, op: str) -> list[int | None]:
    """Normalise ``level`` (None, int, B ints or a (B,) LongTensor) to B values in 1..5."""
    if level is None:
        return [None] * b
    if isinstance(level, Tensor):
        if level.dtype.is_floating_point or level.ndim > 1:
            raise ValueError(f"{op}: level tensor must be integer with shape ({b},)")
        lv = [int(level)] * b if level.ndim == 0 else level.tolist()
    elif isinstance(level, int):
        lv = [level] * b
    else:
        lv = [int(v) for v in level]
    if len(lv) != b:
        raise ValueError(f"{op}: got {len(lv)} levels for a batch of {b}")
    if any(v < 1 or v > 5 for v in lv):
        raise ValueError(f"{op}: levels must be in 1..5, got {sorted(set(lv))}")
    return lv


def apply(
    x: Tensor,
    op: str,
    level: Level = None,
    generator: torch.Generator | None = None,
    return_params: bool = False,
    **fixed: Any,
) -> Tensor | tuple[Tensor, list[dict[str, Any]]]:
    """Apply one op at severity ``level`` (1-5; None samples from the op's ranges).

    Args:
        x: (B, C, H, W) float in [0, 1] or uint8, any device.
        op: registered name (:func:`list_ops`).
        level: an int for the whole batch or a (B,) LongTensor / list, one per sample.
        generator: makes the draw deterministic.
        return_params: also return the per-sample values (list of B dicts).
        **fixed: values to force (e.g. ``quality=30``), the same for every sample.

    Returns:
        (B, C, H, W), same dtype and device as ``x`` (and the params when asked).

    Example:
        >>> y = apply(torch.rand(2, 3, 64, 64), "gaussian_blur", level=3)
    """
    spec = get_op(op)
    check_batch(x, op, spec.min_size)
    check_grad(x, op, spec.differentiable, fixed.values())
    if spec.color:
        need_color(x, op)
    unknown = set(fixed) - {p.name for p in spec.params}
    if unknown:
        raise ValueError(f"{op}: unknown parameter(s) {sorted(unknown)}")
    b = x.shape[0]
    lv = levels_of(level, b, op)
    rngs = sample_rngs(b, generator)
    values = [spec.sample(r, v, fixed) for r, v in zip(rngs, lv, strict=True)]
    y = run_uint8(op, x, spec.canonical(values, x))
    if y is None:
        y = from_float_(spec.run(to_float(x), values), x.dtype)
    return (y, values) if return_params else y


class DegradeOp(nn.Module):
    """Module form of a registered op: samples per-sample parameters, then applies the op.

    Args:
        level: severity 1..5, a ``(lo, hi)`` range of severities drawn per sample, or None to
            sample values uniformly from the op's parameter ranges.
        p: probability that a sample is degraded (others pass through unchanged).
        **fixed: parameter values to force.

    After a call, ``last_params`` holds the per-sample values (None where skipped).

    Example:
        >>> from degrade.ops import GaussianBlur
        >>> y = GaussianBlur(level=(1, 5))(torch.rand(4, 3, 64, 64))
    """

    op: ClassVar[str] = ""

    def __init__(self, level: int | tuple[int, int] | None = None, p: float = 1.0, **fixed: Any):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{self.op}: p must be in [0, 1], got {p}")
        get_op(self.op)  # unknown names fail here
        lo, hi = (level, level) if isinstance(level, int) or level is None else level
        if lo is not None and not (1 <= lo <= hi <= 5):
            raise ValueError(f"{self.op}: level must be in 1..5, got {level}")
        self.level, self.p, self.fixed = (lo, hi), p, fixed
        self.last_params: list[dict[str, Any] | None] = []

    @property
    def spec(self) -> OpSpec:
        """The registered op (looked up, not stored, so modules pickle for DataLoader workers)."""
        return get_op(self.op)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        check_batch(x, self.op, self.spec.min_size)
        check_grad(x, self.op, self.spec.differentiable, self.fixed.values())
        if self.spec.color:
            need_color(x, self.op)
        lo, hi = self.level
        values: list[dict[str, Any] | None] = []
        for r in sample_rngs(x.shape[0], generator):
            on = r.random() < self.p
            lv = None if lo is None else r.randint(lo, hi)
            values.append(self.spec.sample(r, lv, self.fixed) if on else None)
        self.last_params = values
        if all(v is None for v in values):
            return x.clone()
        from degrade.compose import execute  # a one-op pipeline (compose imports this module)

        plans = [[{"op": self.op, **v}] if v is not None else [] for v in values]
        xf = to_float(x)
        return pipeline_result(execute(xf, plans), xf, x.dtype)

    def extra_repr(self) -> str:
        return f"op={self.op!r}, level={self.level}, p={self.p}"


class RandomOp(DegradeOp):
    """Module form of any registered op by name: ``RandomOp("jpeg", level=(1, 5))``."""

    def __init__(
        self, op: str, level: int | tuple[int, int] | None = None, p: float = 1.0, **fixed: Any
    ):
        self.op = op  # type: ignore[misc]
        super().__init__(level, p, **fixed)


def module_form(cls_name: str, op: str) -> type[DegradeOp]:
    """A named :class:`DegradeOp` subclass for ``op`` (``X = module_form("X", "x")``)."""
    doc = f"Module form of ``{op}``: samples parameters (ranges or levels 1-5), then applies it."
    return type(cls_name, (DegradeOp,), {"op": op, "__doc__": doc, "__module__": "degrade.ops"})
