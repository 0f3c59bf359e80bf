"""Named pipelines: ``qpt-v2`` (and its two halves), ``realesrgan``, ``kadid``, ``imagenet-c``."""

from __future__ import annotations

from degrade.compose import Node, OneOf, Op, Repeat, Seq
from degrade.registry import list_ops

# QPT V2 degradation space: blur, sharpen, noise, colour-space transform, colour jitter, resize
QPT_OPS = (
    "gaussian_blur",
    "sharpen",
    "gaussian_noise",
    "color_space_transform",
    "color_jitter",
    "resize",
)


def qpt_sequential(p: float = 0.5) -> Node:
    """QPT V2 "sequential": every op with probability ``p``, in a random order per sample."""
    return Seq(tuple(Op(n, p=p) for n in QPT_OPS), shuffle=True)


def qpt_advanced() -> Node:
    """QPT V2 "advanced": skip / random-choice / high-order chains (Real-ESRGAN style)."""
    blur = OneOf((Op("gaussian_blur"), Op("sharpen")), p=0.8)
    noise = Op("gaussian_noise", p=0.6)
    color = OneOf((Op("color_jitter"), Op("color_space_transform")), p=0.6)
    stage = Seq((blur, Op("resize", p=0.6), noise, color))
    return Repeat(stage, times=(1, 2))


def realesrgan() -> Node:
    """Real-ESRGAN second-order pipeline (Wang et al. 2021), sizes restored after each resize.

    Stage 1: blur (iso/aniso/generalised/plateau Gaussian or sinc kernel), resize, Gaussian or
    Poisson noise (colour or grey), JPEG. Stage 2: the same with blur p=0.8, then in random
    order either [resize + sinc, JPEG] or [JPEG, resize + sinc].
    """
    kernels = (
        "iso_gaussian_blur",
        "aniso_gaussian_blur",
        "generalized_gaussian_blur",
        "plateau_blur",
    )
    blur = OneOf(
        tuple(Op(k) for k in kernels) + (Op("sinc_blur"),), weights=(0.45, 0.25, 0.12, 0.08, 0.1)
    )
    noise = OneOf(
        (
            Op("gaussian_noise"),
            Op("gray_gaussian_noise"),
            Op("poisson_noise"),
            Op("gray_poisson_noise"),
        ),
        weights=(0.3, 0.2, 0.3, 0.2),
    )
    jpeg = Op("jpeg", fixed={}, level=(1, 4))
    stage1 = Seq((blur, Op("resize"), noise, jpeg))
    blur2 = OneOf(blur.choices, weights=blur.weights, p=0.8)
    final = OneOf(
        (
            Seq((Op("resize"), Op("sinc_blur", p=0.8), jpeg)),
            Seq((jpeg, Op("resize"), Op("sinc_blur", p=0.8))),
        ),
    )
    return Seq((stage1, Seq((blur2, Op("resize"), noise)), final))


def _one_of_tag(tag: str, tables: dict[str, dict[str, tuple[float, ...]]] | None = None) -> Node:
    tables = tables or {}
    return OneOf(tuple(Op(n, level=(1, 5), levels=tables.get(n, {})) for n in list_ops(tag)))


#: ImageNet-C's severities (``imagecorruptions``' ``c = [...]``) for the ops it shares with
#: KADID, whose own tables are KADID-calibrated; pixelate (non-integer scales) and saturate
#: (a table that is not monotone) keep degrade's, as degrade/README.md says
IMAGENET_C_LEVELS: dict[str, dict[str, tuple[float, ...]]] = {
    "gaussian_noise": {"sigma": (0.08, 0.12, 0.18, 0.26, 0.38)},
    "impulse_noise": {"amount": (0.03, 0.06, 0.09, 0.17, 0.27)},
    "gaussian_blur": {"sigma": (1.0, 2.0, 3.0, 4.0, 6.0)},
    "contrast_change": {"factor": (0.4, 0.3, 0.2, 0.1, 0.05)},
    "jpeg": {"quality": (25, 18, 15, 10, 7)},
}


_PRESETS = {
    "qpt-v2": lambda: OneOf((qpt_sequential(), qpt_advanced())),
    "qpt-v2-sequential": qpt_sequential,
    "qpt-v2-advanced": qpt_advanced,
    "realesrgan": realesrgan,
    "kadid": lambda: _one_of_tag("kadid"),
    "imagenet-c": lambda: _one_of_tag("imagenet-c", IMAGENET_C_LEVELS),
}


def list_presets() -> list[str]:
    """Names accepted by :class:`~degrade.Degrader`."""
    return list(_PRESETS)


def get_preset(name: str) -> Node:
    """The pipeline tree of preset ``name`` (``ValueError`` if unknown)."""
    try:
        return _PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose from {list_presets()}") from None
