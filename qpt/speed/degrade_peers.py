"""degrade against the libraries users would pick instead, op by op, on CPU, one thread.

For each op that a peer also offers, a batch of real-photo crops (B x 3 x H x W) goes
through ``degrade``'s functional form and through each peer in its native format:
albumentations (HWC per image, uint8 or float32 in [0, 1]), imagecorruptions (HWC per
image in 0..255, or a PIL image where its op takes one) and kornia (float NCHW batches).
Two input types: uint8 in -> uint8 out and float in -> float out; a peer that does not take
a type sits that row out. Rates (images/s) are the best of ``repeats`` interleaved rounds
(every op, type and library once per round; within a round a fast item keeps its best
pass over 50 ms), and each ratio is degrade over the fastest peer measured in the same run.
Torch and OpenCV run on one thread.

Peers are optional (``pip install 'qpt[peers]'``). Three shims keep imagecorruptions 1.1
running with current dependencies, here and not in the peer: ``gaussian_blur`` passes
``multichannel`` (removed from scikit-image; now ``channel_axis``), the package imports
``pkg_resources`` (gone from recent setuptools) for a file path, and its fog asks NumPy for
``float_`` (gone in NumPy 2; its module gets a NumPy that has it).
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from qpt.speed.peer_outputs import AGREE_DB, agreement, as_nchw255, computes_the_same, describe
from qpt.speed.photos import photo_crops

PEERS = ("albumentations", "imagecorruptions", "kornia")
DTYPES = ("uint8", "float")
INSTALL_HINT = "pip install 'qpt[peers]'"


class PeersMissing(RuntimeError):
    """An optional peer library is not installed."""


@dataclass
class Inputs:
    """One batch in every format the libraries take.

    Attributes:
        batch: (B, 3, H, W) uint8 or float32 in [0, 1] (degrade, kornia).
        hwc: B arrays (H, W, 3), uint8 or float32 in [0, 1] (albumentations).
        hwc255: B arrays (H, W, 3) in 0..255, uint8 or float32 (imagecorruptions).
        pil: B PIL images (imagecorruptions' JPEG and pixelate; uint8 only, else None).
    """

    batch: torch.Tensor
    hwc: list[np.ndarray]
    hwc255: list[np.ndarray]
    pil: list[Any] | None


@dataclass
class Peer:
    """One peer's form of an op: ``fn`` runs on one item of ``Inputs.<kind>``."""

    lib: str
    kind: str  # "hwc", "hwc255", "pil" (per image) or "batch"
    fn: Callable[[Any], Any]
    dtypes: tuple[str, ...] = DTYPES


@dataclass
class Case:
    """An op: degrade's call on a batch and the peers' forms of the same op."""

    op: str
    setting: str
    degrade: Callable[[torch.Tensor], torch.Tensor]
    peers: list[Peer] = field(default_factory=list)
    random: bool = False  # draws (noise) or a random order (jitter): outputs not comparable


def make_inputs(u8: torch.Tensor, dtype: str) -> Inputs:
    """The batch ``u8`` (B, 3, H, W) uint8 as ``dtype`` in every library's format."""
    from PIL import Image

    hwc8 = [np.ascontiguousarray(im.permute(1, 2, 0).numpy()) for im in u8]
    if dtype == "uint8":
        return Inputs(u8.clone(), hwc8, hwc8, [Image.fromarray(a) for a in hwc8])
    f = u8.float().div(255)
    hwcf = [np.ascontiguousarray(a.astype(np.float32) / 255) for a in hwc8]
    return Inputs(f, hwcf, [a.astype(np.float32) for a in hwc8], None)


# ------------------------------------------------------------------------------- peers
def _shim_pkg_resources() -> None:
    """imagecorruptions imports ``pkg_resources.resource_filename`` (a file path) only."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        mod = types.ModuleType("pkg_resources")

        def resource_filename(package: str, name: str) -> str:
            spec = importlib.util.find_spec(package)
            return os.path.join(os.path.dirname(spec.origin or ""), name)

        mod.resource_filename = resource_filename  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = mod


def load_peers() -> dict[str, types.ModuleType]:
    """The peer modules (``PeersMissing`` naming the install command if one is missing)."""
    _shim_pkg_resources()
    mods, missing = {}, []
    for name, module in (
        ("albumentations", "albumentations"),
        ("imagecorruptions", "imagecorruptions.corruptions"),
        ("kornia", "kornia"),
    ):
        try:
            mods[name] = importlib.import_module(module)
        except ImportError:
            missing.append(name)
    if missing:
        raise PeersMissing(f"peer libraries missing ({', '.join(missing)}): {INSTALL_HINT}")
    ic = mods["imagecorruptions"]
    if not getattr(ic.gaussian, "_qpt_shim", False):
        ic.gaussian = _multichannel_shim(ic.gaussian)
    if not hasattr(ic.np, "float_"):  # its fog's plasma fractal asks for NumPy 1's float_
        ic.np = _NumpyWithFloat_(np)
    return mods


class _NumpyWithFloat_(types.ModuleType):
    """NumPy as imagecorruptions' module sees it, with NumPy 1's ``float_`` (float64)."""

    def __init__(self, numpy: types.ModuleType) -> None:
        super().__init__("numpy")
        self._numpy, self.float_ = numpy, numpy.float64

    def __getattr__(self, name: str) -> Any:
        return getattr(self._numpy, name)


def _multichannel_shim(gaussian: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def shimmed(image: np.ndarray, *args: Any, multichannel: bool | None = None, **kw: Any):
        if multichannel is not None:
            kw.setdefault("channel_axis", -1 if multichannel else None)
        return gaussian(image, *args, **kw)

    shimmed._qpt_shim = True  # type: ignore[attr-defined]
    return shimmed


def _albu(t: Any) -> Peer:
    return Peer("albumentations", "hwc", lambda im: t(image=im)["image"])


def _corr(fn: Callable[..., Any], severity: int, kind: str = "hwc255") -> Peer:
    if kind == "pil":  # its JPEG returns a lazily decoded file: the pixels are the result
        return Peer("imagecorruptions", kind, lambda im: np.asarray(fn(im, severity)), ("uint8",))
    return Peer("imagecorruptions", kind, lambda im: fn(im, severity))


def _kor(fn: Callable[[torch.Tensor], torch.Tensor]) -> Peer:
    return Peer("kornia", "batch", fn, ("float",))


def cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """The ops with a peer, each at one setting shared (as closely as the APIs allow) by all."""
    return [
        *_classic_cases(mods),
        *_corruption_cases(mods),
        *_filter_cases(mods),
        *_tone_cases(mods),
        *_drawn_cases(mods),
    ]


def _classic_cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """Blur, noise, JPEG and contrast: the ops every library has."""
    import kornia
    import kornia.augmentation as KA

    import degrade.ops as D

    A, ic = mods["albumentations"], mods["imagecorruptions"]
    noise = KA.RandomGaussianNoise(std=0.08, p=1.0)
    return [
        Case(
            "gaussian blur",
            "sigma 2",
            lambda x: D.gaussian_blur(x, 2.0),
            [
                _albu(A.GaussianBlur(blur_limit=(13, 13), sigma_limit=(2.0, 2.0), p=1)),
                _corr(ic.gaussian_blur, 2),
                _kor(lambda x: kornia.filters.gaussian_blur2d(x, (13, 13), (2.0, 2.0))),
            ],
        ),
        Case(
            "gaussian noise",
            "sigma 0.08",
            lambda x: D.gaussian_noise(x, 0.08),
            [
                _albu(A.GaussNoise(std_range=(0.08, 0.08), p=1)),
                _corr(ic.gaussian_noise, 1),
                _kor(noise),
            ],
            random=True,
        ),
        Case(
            "JPEG",
            "quality 25",
            lambda x: D.jpeg(x, 25),
            [
                _albu(A.ImageCompression(quality_range=(25, 25), p=1)),
                _corr(ic.jpeg_compression, 1, "pil"),
            ],
        ),
        Case(
            "contrast",
            "factor 0.4",
            lambda x: D.contrast_change(x, 0.4),
            [
                _albu(A.RandomBrightnessContrast((0, 0), (-0.6, -0.6), p=1)),
                _corr(ic.contrast, 1),
                _kor(lambda x: kornia.enhance.adjust_contrast_with_mean_subtraction(x, 0.4)),
            ],
        ),
    ]


def _corruption_cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """Ops of the ImageNet-C family that albumentations and imagecorruptions both have."""
    import cv2

    import degrade.ops as D

    A, ic = mods["albumentations"], mods["imagecorruptions"]
    downscale = {"downscale": cv2.INTER_AREA, "upscale": 0}
    return [
        Case(
            "defocus blur",
            "radius 6",
            lambda x: D.defocus_blur(x, 6.0),
            [
                _albu(A.Defocus(radius=(6, 6), alias_blur=(0.5, 0.5), p=1)),
                _corr(ic.defocus_blur, 3),
            ],
        ),
        Case(
            "pixelate",
            "factor 4",
            lambda x: D.pixelate(x, 4),
            [
                _albu(A.Downscale(scale_range=(0.25, 0.25), interpolation_pair=downscale, p=1)),
                _corr(ic.pixelate, 5, "pil"),
            ],
        ),
        Case(
            "zoom blur",
            "zooms arange(1, 1.21, 0.02)",
            lambda x: D.zoom_blur(x, 1.21, 0.02),  # ImageNet-C severity 3 = degrade level 3
            [
                _albu(A.ZoomBlur(max_factor=(1.21, 1.21), step_factor=(0.02, 0.02), p=1)),
                _corr(ic.zoom_blur, 3),
            ],
        ),
        Case(
            "shot noise",
            "12 photons",
            lambda x: D.shot_noise(x, 12.0),
            [_albu(A.ShotNoise(scale_range=(1 / 12, 1 / 12), p=1)), _corr(ic.shot_noise, 3)],
            random=True,
        ),
    ]


def _filter_cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """Colour jitter, sharpening and motion blur: albumentations and kornia only."""
    import kornia
    import kornia.augmentation as KA

    import degrade.ops as D

    A = mods["albumentations"]
    jitter = KA.ColorJitter(0.1, 0.3, 0.4, 0.08, p=1.0)
    return [
        Case(
            "colour jitter",
            "b 0.1 c 0.7 s 0.6 h 0.08",
            lambda x: D.color_jitter(x, 0.1, 0.7, 0.6, 0.08),
            [
                _albu(A.ColorJitter((1.1, 1.1), (0.7, 0.7), (0.6, 0.6), (0.08, 0.08), p=1)),
                _kor(jitter),
            ],
            random=True,
        ),
        Case(
            "sharpen",
            "amount 1, sigma 1, 7 taps",  # albumentations' alpha 1 is amount 1; its default 5 taps
            lambda x: D.sharpen(x, 1.0, 1.0),
            [
                _albu(
                    A.Sharpen(
                        alpha=(1, 1),
                        lightness=(1, 1),
                        method="gaussian",
                        kernel_size=7,
                        sigma=1.0,
                        p=1,
                    )
                ),
                _kor(lambda x: kornia.filters.unsharp_mask(x, (7, 7), (1.0, 1.0))),
            ],
        ),
        Case(
            "motion blur",
            "length 10, angle 30",
            lambda x: D.motion_blur(x, 10.0, 30.0),
            [
                # centred and symmetric (its defaults draw a bias and a shift on each call)
                _albu(
                    A.MotionBlur(
                        blur_limit=(11, 11),
                        angle_range=(30, 30),
                        direction_range=(0, 0),
                        allow_shifted=False,
                        p=1,
                    )
                ),
                _kor(lambda x: kornia.filters.motion_blur(x, 11, 30.0, 0.0)),
            ],
        ),
    ]


def _tone_cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """Point ops: gamma and mean shift (albumentations), ImageNet-C's brightness and saturate."""
    import degrade.ops as D

    A, ic = mods["albumentations"], mods["imagecorruptions"]
    return [
        Case(
            "gamma",
            "gamma 2.2",
            lambda x: D.darken(x, 2.2),
            [_albu(A.RandomGamma(gamma_limit=(220, 220), p=1))],
        ),
        Case(
            "mean shift",
            "+ 0.3",  # albumentations' brightness: 0.3 of the maximum added
            lambda x: D.mean_shift(x, 0.3),
            [_albu(A.RandomBrightnessContrast((0.3, 0.3), (0, 0), p=1))],
        ),
        Case(
            "brightness",
            "HSV value + 0.3",  # ImageNet-C severity 3
            lambda x: D.brightness(x, 0.3),
            [_corr(ic.brightness, 3)],
        ),
        Case(
            "saturate",
            "HSV saturation x 2",  # ImageNet-C severity 3
            lambda x: D.saturate(x, 2.0),
            [_corr(ic.saturate, 3)],
        ),
    ]


def _drawn_cases(mods: dict[str, types.ModuleType]) -> list[Case]:
    """Ops that draw (noise, displacements, weather) at ImageNet-C's severity 3, degrade's
    level 3 where its table is its own; outputs compared in distribution only, not here.
    imagecorruptions' glass blur is left out: its pixel loop takes ~0.7 s per image."""
    import degrade

    A, ic = mods["albumentations"], mods["imagecorruptions"]

    def level3(op: str) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: degrade.apply(x, op, level=3, generator=torch.Generator().manual_seed(0))

    def case(op: str, name: str, setting: str, peers: list[Peer]) -> Case:
        return Case(name, setting, level3(op), peers, random=True)

    return [
        case(
            "impulse_noise",
            "impulse noise",
            "amount 0.09",
            [_albu(A.SaltAndPepper(amount=(0.09, 0.09), p=1)), _corr(ic.impulse_noise, 3)],
        ),
        case("speckle_noise", "speckle noise", "sigma 0.35", [_corr(ic.speckle_noise, 3)]),
        case("motion_trail", "motion trail", "radius 15, sigma 8", [_corr(ic.motion_blur, 3)]),
        case(
            "glass_blur",
            "glass blur",
            "sigma 1, delta 2, 3 iterations",
            [_albu(A.GlassBlur(sigma=1.0, max_delta=2, iterations=3, p=1))],
        ),
        case(
            "elastic",
            "elastic",
            "level 3",
            [_albu(A.ElasticTransform(p=1)), _corr(ic.elastic_transform, 3)],
        ),
        case("fog", "fog", "level 3", [_albu(A.RandomFog(p=1)), _corr(ic.fog, 3)]),
        case("frost", "frost", "level 3", [_corr(ic.frost, 3)]),
        case("snow", "snow", "level 3", [_albu(A.RandomSnow(p=1)), _corr(ic.snow, 3)]),
        case("spatter", "spatter", "level 3", [_albu(A.Spatter(p=1)), _corr(ic.spatter, 3)]),
    ]


# ------------------------------------------------------------------------------ measuring
@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch and OpenCV on one thread inside the block; the previous counts come back after."""
    import cv2

    saved = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        cv2.setNumThreads(saved[1])


def _runner(peer: Peer | None, case: Case, inputs: Inputs) -> Callable[[], None]:
    if peer is None:
        return lambda: case.degrade(inputs.batch)
    if peer.kind == "batch":
        return lambda: peer.fn(inputs.batch)
    items = getattr(inputs, peer.kind)

    def run() -> None:
        for im in items:
            peer.fn(im)

    return run


#: within a round, a fast item is timed over passes until this many seconds and keeps its
#: best pass: a single pass of a cheap op lasts a few ms, shorter than the preemptions of a
#: shared machine
MIN_ROUND_SECONDS = 0.05


def _time(fn: Callable[[], None]) -> float:
    """The best pass of ``fn`` over at least :data:`MIN_ROUND_SECONDS` (one pass if slower)."""
    best, spent = math.inf, 0.0
    while spent < MIN_ROUND_SECONDS:
        t0 = time.perf_counter()
        fn()
        t = time.perf_counter() - t0
        best, spent = min(best, t), spent + t
    return best


def run(
    batch: int = 32,
    size: int = 224,
    repeats: int = 3,
    ops: list[str] | None = None,
) -> dict[str, Any]:
    """Measure every case: images/s of degrade and each peer, per op and input type.

    Returns:
        ``{"rows": [{op, setting, dtype, rates: {lib: img/s}, fastest_peer, ratio,
        agreement, fastest_same_peer, ratio_same}], "geomean": float, "behind": int,
        "batch", "size", "repeats", "versions"}``. ``agreement`` is each peer's
        ``{psnr_db, max_abs}`` against degrade's output on the batch (None for random ops);
        ``fastest_same_peer`` / ``ratio_same`` the fastest peer within
        :data:`~qpt.speed.peer_outputs.AGREE_DB` of degrade's output and the ratio to it
        (None where no peer is). ``geomean`` and ``behind`` count every row against its
        fastest peer, whatever it computes.
    """
    mods = load_peers()
    all_cases = [c for c in cases(mods) if ops is None or c.op in ops]
    u8 = photo_crops(batch, size)
    inputs = {dt: make_inputs(u8, dt) for dt in DTYPES}
    best: dict[tuple[str, str, str], float] = {}
    with one_thread(), torch.inference_mode():
        for _ in range(repeats):  # interleaved: every op, type and library once per round
            for case in all_cases:
                for dt in DTYPES:
                    for peer in [None, *case.peers]:
                        if peer is not None and dt not in peer.dtypes:
                            continue
                        key = (case.op, dt, "degrade" if peer is None else peer.lib)
                        t = _time(_runner(peer, case, inputs[dt]))
                        best[key] = min(best.get(key, math.inf), t)
        rows = [_row(case, dt, batch, best, inputs[dt]) for case in all_cases for dt in DTYPES]
    ratios = [r["ratio"] for r in rows]
    return {
        "rows": rows,
        "geomean": geomean(ratios),
        "behind": sum(r < 1 for r in ratios),
        "batch": batch,
        "size": size,
        "repeats": repeats,
        "versions": versions(mods),
    }


def _row(
    case: Case, dt: str, batch: int, best: dict[tuple[str, str, str], float], inputs: Inputs
) -> dict[str, Any]:
    """One row of the table: rates, the fastest peer, the ratio and each peer's agreement
    with degrade's output on the batch (None for an op whose outputs are random)."""
    peers_of_dt = [p for p in case.peers if dt in p.dtypes]
    rates = {
        lib: batch / best[(case.op, dt, lib)] for lib in ["degrade", *(p.lib for p in peers_of_dt)]
    }
    peers = {k: v for k, v in rates.items() if k != "degrade"}
    fastest = max(peers, key=peers.__getitem__)
    agree = None
    if not case.random:
        ref = as_nchw255(case.degrade(inputs.batch), "batch", dt)
        agree = {
            p.lib: agreement(ref, as_nchw255(_outputs(p, inputs), p.kind, dt)) for p in peers_of_dt
        }
    same = [k for k in peers if agree is not None and computes_the_same(agree[k])]
    fastest_same = max(same, key=peers.__getitem__) if same else None
    return {
        "op": case.op,
        "setting": case.setting,
        "dtype": dt,
        "rates": rates,
        "fastest_peer": fastest,
        "ratio": rates["degrade"] / peers[fastest],
        "agreement": agree,
        "fastest_same_peer": fastest_same,
        "ratio_same": rates["degrade"] / peers[fastest_same] if fastest_same else None,
    }


def _outputs(peer: Peer, inputs: Inputs) -> Any:
    """The peer's outputs for the batch: a tensor, or a list of per-image arrays."""
    if peer.kind == "batch":
        return peer.fn(inputs.batch)
    return [peer.fn(im) for im in getattr(inputs, peer.kind)]


def geomean(values: list[float]) -> float:
    """The geometric mean of positive ``values`` (the mean ratio of a table)."""
    return math.exp(sum(map(math.log, values)) / len(values))


def versions(mods: dict[str, types.ModuleType]) -> dict[str, str]:
    """Versions of the libraries measured (and of torch and OpenCV beneath them)."""
    from importlib.metadata import version

    import cv2

    out = {name: version(name) for name in PEERS}
    out.update(torch=torch.__version__, opencv=cv2.__version__)
    return out


def report(result: dict[str, Any]) -> str:
    """The table as text: images/s per library, the ratio to the fastest peer, and how far
    that peer's output is from degrade's (PSNR, or "same")."""
    libs = ["degrade", *PEERS]
    head = f"{'op':<16}{'type':<7}" + "".join(f"{lib:>17}" for lib in libs)
    lines = [
        f"degrade vs peers, CPU, 1 thread, {result['batch']} x 3 x {result['size']}^2 photo "
        f"crops, best of {result['repeats']} interleaved rounds (images/s); last column: "
        "the fastest peer's output against degrade's",
        f"{head}{'ratio':>9}  {'fastest vs degrade':>18}",
    ]
    for r in result["rows"]:
        cells = "".join(
            f"{r['rates'][lib]:>17,.0f}" if lib in r["rates"] else f"{'-':>17}" for lib in libs
        )
        agree = _fastest_agreement(r)
        lines.append(
            f"{r['op']:<16}{r['dtype']:<7}{cells}{r['ratio']:>8.2f}x  {describe(agree):>18}"
        )
    lines.append(
        f"geometric mean {result['geomean']:.2f}x the fastest peer; "
        f"{result['behind']} of {len(result['rows'])} rows behind"
    )
    same = [computes_the_same(_fastest_agreement(r)) for r in result["rows"]]
    det = [v for v in same if v is not None]
    lines.append(
        f"the fastest peer computes degrade's result (>= {AGREE_DB:.0f} dB) in {sum(det)} of "
        f"{len(det)} deterministic rows"
    )
    lines.append(_same_summary(result["rows"]))
    lines.append(", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    return "\n".join(lines)


def _same_summary(rows: list[dict[str, Any]]) -> str:
    """Deterministic rows against the fastest peer that computes degrade's result."""
    pairs = [(r, r["ratio_same"]) for r in rows if r["ratio_same"] is not None]
    if not pairs:
        return "no peer computes degrade's result in any deterministic row"
    behind = [f"{r['op']} {r['dtype']} {v:.2f}x" for r, v in pairs if v < 1]
    return (
        f"against the fastest peer that computes degrade's result: geometric mean "
        f"{geomean([v for _, v in pairs]):.2f}x over {len(pairs)} rows; behind: "
        f"{', '.join(behind) or 'none'}"
    )


def _fastest_agreement(row: dict[str, Any]) -> dict[str, Any] | None:
    return row["agreement"] and row["agreement"][row["fastest_peer"]]


def chart(result: dict[str, Any], path: str) -> None:
    """A PNG bar chart of the ratios (log scale, 1 = the fastest peer)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    labels = [f"{r['op']} ({r['dtype']})" for r in rows]
    ratios = [r["ratio"] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.2))
    colors = ["tab:green" if v >= 1 else "tab:red" for v in ratios]
    other = [computes_the_same(_fastest_agreement(r)) is False for r in rows]
    bars = ax.barh(range(len(rows)), ratios, color=colors)
    for bar, hatched in zip(bars, other, strict=True):
        bar.set_hatch("//" if hatched else "")
    if any(other):
        from matplotlib.patches import Patch

        label = "the fastest peer computes another result"
        key = Patch(facecolor="white", edgecolor="k", hatch="//", label=label)
        ax.legend(handles=[key], loc="lower right", fontsize=7)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xlabel("degrade / fastest peer (images/s, CPU, 1 thread)")
    ax.set_title(f"geometric mean {result['geomean']:.2f}x")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
