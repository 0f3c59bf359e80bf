"""Degradation speed: batched ``degrade`` presets vs a per-image OpenCV/PIL loop, one run.

For each preset (``qpt-v2``, ``kadid``, and ``kadid`` without JPEG2000, which has no GPU
codec; on CUDA JPEG2000 alone too) the batch of real-photo crops (B x 3 x 224 x 224,
float) is degraded by ``degrade.Degrader`` on the device; the reference loop then takes the
*same* per-image plans (ops, order, values) and runs them one image at a time with OpenCV
(and Pillow for JPEG2000) on the CPU, as a typical per-image augmentation loop would.
Printed: images/s of both and their ratio (batched / loop). Best of ``repeats`` for each.

Run: ``python -m qpt.speed.degrade_speed [cpu|cuda] [--batch 64] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import cv2
import numpy as np
import torch

from qpt.speed.photos import photo_crops

Img = np.ndarray  # (H, W, 3) float32 RGB in [0, 1]


def photo_batch(batch: int, size: int = 224, seed: int = 0) -> torch.Tensor:
    """(batch, 3, size, size) float crops in [0, 1] of :func:`~.photos.photo_crops`."""
    return photo_crops(batch, size, seed).float().div(255)


# ----------------------------------------------------------------------------- reference ops
def _blur(im: Img, sigma: float) -> Img:
    sigma = max(sigma, 0.05)
    k = 2 * math.ceil(3 * sigma) + 1
    return cv2.GaussianBlur(im, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)


def _gray(im: Img) -> Img:
    return cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)


def _u8(im: Img) -> np.ndarray:
    return (np.clip(im, 0, 1) * 255 + 0.5).astype(np.uint8)


def _jpeg(im: Img, q: int) -> Img:
    ok, enc = cv2.imencode(".jpg", _u8(im)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(q)])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255


def _jpeg2000(im: Img, rate: float) -> Img:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_u8(im)).save(
        buf, format="JPEG2000", quality_mode="rates", quality_layers=[rate], irreversible=True
    )
    buf.seek(0)
    return np.asarray(Image.open(buf)).astype(np.float32) / 255


def _filter(im: Img, k: np.ndarray) -> Img:
    return cv2.filter2D(im, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT_101)


def _disc(radius: float) -> np.ndarray:
    n = 2 * math.ceil(radius) + 3
    r = np.hypot(*np.mgrid[:n, :n] - (n - 1) / 2)
    return np.clip(radius + 0.5 - r, 0, 1).astype(np.float32)


def _line(length: float, angle: float) -> np.ndarray:
    n = 2 * math.ceil((length + 2) / 2) + 1
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    a = math.radians(angle)
    along = xx * math.cos(a) + yy * math.sin(a)
    across = -xx * math.sin(a) + yy * math.cos(a)
    k = np.clip(1 - np.abs(across), 0, 1) * np.clip(
        max(length / 2, 0.5) + 0.5 - np.abs(along), 0, 1
    )
    return k.astype(np.float32)


def _lab_ab(im: Img, fn: Callable[[Img], Img]) -> Img:
    lab = cv2.cvtColor(im, cv2.COLOR_RGB2Lab)
    lab[..., 1:] = fn(np.ascontiguousarray(lab[..., 1:]))
    return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)


def _hsv_s(im: Img, f: float) -> Img:
    hsv = cv2.cvtColor(im, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = np.clip(hsv[..., 1] * f, 0, 1)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _quant(v: Img, n: int) -> Img:
    return np.round(np.clip(v, 0, 1) * (n - 1)) / (n - 1)


_LUMA = np.array([0.299, 0.587, 0.114])
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _color_jitter(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    """degrade's colour jitter (one affine colour transform), with OpenCV's cv2.transform."""
    c, b = p["contrast"], p["brightness"]
    m = float(_gray(im).mean()) + b
    s = p["saturation"]
    sat = s * np.eye(3) + (1 - s) * _LUMA[None, :]
    a = p["hue"] * 2 * math.pi
    rot = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    mat = np.linalg.inv(_YIQ) @ rot @ _YIQ @ sat * c
    return cv2.transform(im, mat.astype(np.float32)) + (c * b + (1 - c) * m)


def _cst(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    m = np.eye(3) + p["strength"] * rng.standard_normal((3, 3)) / 3
    m = m / np.maximum(m.sum(1, keepdims=True), 0.2)
    return cv2.transform(im, m.astype(np.float32))


def _resize(im: Img, p: dict[str, Any], rng: np.random.Generator) -> Img:
    h, w = im.shape[:2]
    s, mode = p["scale"], p["mode"]
    small = _resize_step(im, (max(1, round(w * s)), max(1, round(h * s))), mode)
    return _resize_step(small, (w, h), "bilinear" if mode == "area" else mode)


def _resize_step(im: Img, size: tuple[int, int], mode: str) -> Img:
    """One resize to ``size`` (w, h). A bilinear / bicubic shrink goes through Pillow, which
    antialiases as ``degrade`` and torch's ``antialias=True`` do (the same operator to float
    rounding); OpenCV's INTER_LINEAR / INTER_CUBIC shrink without antialiasing, a cheaper and
    different operator. Enlarging and ``area`` use OpenCV."""
    from PIL import Image

    if mode != "area" and (size[0] < im.shape[1] or size[1] < im.shape[0]):
        f = Image.Resampling.BILINEAR if mode == "bilinear" else Image.Resampling.BICUBIC
        chans = [np.asarray(Image.fromarray(im[..., c]).resize(size, f)) for c in range(3)]
        return np.stack(chans, -1)
    inter = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
    return cv2.resize(im, size, interpolation=inter[mode])


def _ycc_noise(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    ycc = cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)
    ycc[..., 1:] += rng.standard_normal(ycc[..., 1:].shape).astype(np.float32) * p["sigma"]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def _impulse(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    u = rng.random((2, *im.shape), dtype=np.float32)
    return np.where(u[0] < p["amount"], (u[1] < 0.5).astype(np.float32), im)


def _jitter(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    h, w = im.shape[:2]
    off = (rng.random((2, h, w), dtype=np.float32) * 2 - 1) * p["amount"]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        im, gx + off[0], gy + off[1], cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101
    )


def _patches(im: Img, p: dict[str, int], rng: np.random.Generator, blocks: bool) -> Img:
    h, w = im.shape[:2]
    s = max(2, min(h, w) // 10)
    out = im.copy()
    for _ in range(p["blocks" if blocks else "patches"]):
        y, x = rng.integers(0, h - s + 1), rng.integers(0, w - s + 1)
        if blocks:
            out[y : y + s, x : x + s] = rng.random(3)
        else:
            a = rng.uniform(0, 2 * math.pi)
            sy = int(np.clip(y + round(math.sin(a) * s), 0, h - s))
            sx = int(np.clip(x + round(math.cos(a) * s), 0, w - s))
            out[y : y + s, x : x + s] = im[sy : sy + s, sx : sx + s]
    return out


def _pixelate(im: Img, f: int) -> Img:
    h, w = im.shape[:2]
    small = cv2.resize(im, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _luma_quant(im: Img, n: int) -> Img:
    ycc = cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb)
    ycc[..., 0] = _quant(ycc[..., 0], n)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def _shift_green(im: Img, p: dict[str, float], rng: np.random.Generator) -> Img:
    a = math.radians(p["angle"])
    m = np.float32([[1, 0, p["shift"] * math.cos(a)], [0, 1, p["shift"] * math.sin(a)]])
    out = im.copy()
    out[..., 1] = cv2.warpAffine(im[..., 1], m, im.shape[1::-1], borderMode=cv2.BORDER_REFLECT_101)
    return out


def _noise(im: Img, rng: np.random.Generator) -> Img:
    return rng.standard_normal(im.shape, dtype=np.float32)


def _contrast(im: Img, f: float) -> Img:
    m = _gray(im).mean()
    return m + f * (im - m)


REFERENCE: dict[str, Callable[[Img, dict[str, Any], np.random.Generator], Img]] = {
    "gaussian_blur": lambda im, p, r: _blur(im, p["sigma"]),
    "sharpen": lambda im, p, r: im + p["amount"] * (im - _blur(im, p["sigma"])),
    "gaussian_noise": lambda im, p, r: im + p["sigma"] * _noise(im, r),
    "color_space_transform": _cst,
    "color_jitter": _color_jitter,
    "resize": _resize,
    "jpeg": lambda im, p, r: _jpeg(im, p["quality"]),
    "jpeg2000": lambda im, p, r: _jpeg2000(im, p["rate"]),
    "lens_blur": lambda im, p, r: _filter(im, _disc(p["radius"])),
    "motion_blur": lambda im, p, r: _filter(im, _line(p["length"], p["angle"])),
    "color_diffusion": lambda im, p, r: _lab_ab(im, lambda ab: _blur(ab, p["sigma"])),
    "color_shift": _shift_green,
    "color_quantization": lambda im, p, r: _quant(im, p["levels"]),
    "color_saturation_1": lambda im, p, r: _hsv_s(im, p["factor"]),
    "color_saturation_2": lambda im, p, r: _lab_ab(im, lambda ab: ab * p["factor"]),
    "white_noise_color_component": _ycc_noise,
    "impulse_noise": _impulse,
    "multiplicative_noise": lambda im, p, r: im * (1 + p["sigma"] * _noise(im, r)),
    "denoise": lambda im, p, r: _blur(im + p["sigma"] * _noise(im, r), 12 * p["sigma"]),
    "brighten": lambda im, p, r: np.power(np.clip(im, 0, 1), p["gamma"]),
    "darken": lambda im, p, r: np.power(np.clip(im, 0, 1), p["gamma"]),
    "mean_shift": lambda im, p, r: im + p["shift"],
    "contrast_change": lambda im, p, r: _contrast(im, p["factor"]),
    "jitter": _jitter,
    "non_eccentricity_patch": lambda im, p, r: _patches(im, p, r, blocks=False),
    "color_block": lambda im, p, r: _patches(im, p, r, blocks=True),
    "pixelate": lambda im, p, r: _pixelate(im, p["factor"]),
    "quantization": lambda im, p, r: _luma_quant(im, p["levels"]),
}


def reference_loop(x: torch.Tensor, params: list[dict[str, Any]]) -> list[Img]:
    """Run each image's plan with the OpenCV/PIL reference ops, one image at a time."""
    imgs = x.permute(0, 2, 3, 1).numpy()
    out = []
    for i, p in enumerate(params):
        im = np.ascontiguousarray(imgs[i])
        rng = np.random.default_rng(i)
        for step in p["ops"]:
            im = np.clip(REFERENCE[step["op"]](im, step, rng), 0, 1).astype(np.float32)
        out.append(im)
    return out


def _best_pair(
    batched: Callable[[], Any], loop: Callable[[], Any], repeats: int, sync: Callable[[], None]
) -> tuple[float, float]:
    """Best wall time of each side over ``repeats``, the two sides taking turns, so that a
    shared machine's slow spells fall on both rather than on one."""
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for k, (fn, wait) in enumerate(((batched, sync), (loop, lambda: None))):
            wait()
            t = time.perf_counter()
            fn()
            wait()
            best[k] = min(best[k], time.perf_counter() - t)
    return best[0], best[1]


def run(
    device: str = "cpu", batch: int = 64, repeats: int = 3, threads: int | None = 1
) -> dict[str, Any]:
    """Time the :func:`pipelines` batched on ``device`` vs the per-image CPU loop.

    ``threads``: CPU threads for both torch and OpenCV during the run (default 1: a per-core
    comparison, stable on a shared machine; None keeps the libraries' defaults).

    Returns:
        ``{"device", "batch", "torch_threads", "presets": {name: {"batched_img_s",
        "loop_img_s", "ratio"}}}``; ratio > 1 means the batched path is faster.
    """

    with _threads(threads):
        return _run(device, batch, repeats, _sync(device))


def _sync(device: str) -> Callable[[], None]:
    """What waits for ``device`` to finish its queued work (``ValueError`` without CUDA)."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("degrade speed: CUDA requested but not available")
    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


@contextlib.contextmanager
def _threads(threads: int | None) -> Iterator[None]:
    """torch and OpenCV on ``threads`` CPU threads inside the block (None: unchanged)."""
    saved = torch.get_num_threads(), cv2.getNumThreads()
    if threads is not None:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        cv2.setNumThreads(saved[1])


#: JPEG2000 has no GPU codec: the CUDA target leaves it out and reports it alone
NO_JPEG2000 = "kadid-no-jpeg2000"


def pipelines(device: str) -> dict[str, Any]:
    """The rows: presets ``qpt-v2`` and ``kadid``, ``kadid`` without its JPEG2000 draws
    (one op of the other 24 at a random level), and on CUDA JPEG2000 alone (its CPU codec,
    on both sides)."""
    import degrade

    kadid = [n for n in degrade.list_ops("kadid") if n != "jpeg2000"]
    rows: dict[str, Any] = {
        "qpt-v2": "qpt-v2",
        "kadid": "kadid",
        NO_JPEG2000: degrade.OneOf(tuple(degrade.Op(n, level=(1, 5)) for n in kadid)),
    }
    if device.startswith("cuda"):
        rows["jpeg2000"] = degrade.OneOf((degrade.Op("jpeg2000", level=(1, 5)),))
    return rows


def _run(device: str, batch: int, repeats: int, sync: Callable[[], None]) -> dict[str, Any]:
    import degrade

    x_cpu = photo_batch(batch)
    x = x_cpu.to(device)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
        "batch": batch,
        "size": 224,
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "presets": {},
    }
    for name, pipeline in pipelines(device).items():
        d = degrade.Degrader(pipeline)

        def batched(d: degrade.Degrader = d) -> Any:
            return d(x, generator=torch.Generator(device=device).manual_seed(0))

        _, params = batched()  # warm-up (kernels, caches) and the plans the loop replays
        reference_loop(x_cpu[:4], params[:4])
        t_batch, t_loop = _best_pair(
            batched, lambda p=params: reference_loop(x_cpu, p), repeats, sync
        )
        result["presets"][name] = {
            "batched_img_s": batch / t_batch,
            "loop_img_s": batch / t_loop,
            "ratio": t_loop / t_batch,
            "ops_per_image": sum(len(p["ops"]) for p in params) / batch,
        }
    return result


def per_op(
    device: str = "cpu", batch: int = 64, repeats: int = 3, threads: int | None = 1, level: int = 3
) -> dict[str, Any]:
    """Each op that has a reference, alone at severity ``level``: batched vs the loop.

    Returns:
        ``{"device", "batch", "level", "ops": {name: {"batched_img_s", "loop_img_s",
        "ratio"}}}``, where the presets' ratios come from.
    """
    import random

    import degrade

    sync = _sync(device)
    with _threads(threads):
        x_cpu = photo_batch(batch)
        x = x_cpu.to(device)
        ops: dict[str, Any] = {}
        for name in sorted(REFERENCE):
            spec = degrade.get_op(name)
            rng = random.Random(0)
            values = [{"op": name, "level": level, **spec.sample(rng, level)} for _ in x]
            plans = [{"ops": [v]} for v in values]
            runner = degrade.Degrader()
            runner.replay(x, plans)  # warm-up (kernels, cached matrices)
            t_b, t_l = _best_pair(
                lambda p=plans, r=runner: r.replay(x, p),
                lambda p=plans: reference_loop(x_cpu, p),
                repeats,
                sync,
            )
            ops[name] = {
                "batched_img_s": batch / t_b,
                "loop_img_s": batch / t_l,
                "ratio": t_l / t_b,
            }
        return {"device": device, "batch": batch, "level": level, "ops": ops}


def report_per_op(res: dict[str, Any]) -> str:
    lines = [f"degrade per op on {res['device']}, level {res['level']}, batch {res['batch']}:"]
    for name, r in sorted(res["ops"].items(), key=lambda kv: kv[1]["ratio"]):
        lines.append(
            f"  {name:28s} batched {r['batched_img_s']:9.1f} img/s   loop "
            f"{r['loop_img_s']:7.1f} img/s   ratio {r['ratio']:7.2f}x"
        )
    return "\n".join(lines)


def report(res: dict[str, Any]) -> str:
    lines = [
        f"degrade speed on {res['device']} (batch {res['batch']} x 3 x 224 x 224, "
        f"torch threads {res['torch_threads']}, OpenCV threads {res['opencv_threads']})"
    ]
    for name, r in res["presets"].items():
        lines.append(
            f"  {name:17s} batched {r['batched_img_s']:8.1f} img/s   per-image OpenCV/PIL loop "
            f"{r['loop_img_s']:7.1f} img/s   ratio {r['ratio']:6.2f}x   "
            f"({r['ops_per_image']:.2f} ops/image)"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("device", nargs="?", default="cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="CPU threads (0: library default)")
    ap.add_argument("--per-op", action="store_true", help="each op alone at level 3")
    a = ap.parse_args()
    if a.per_op:
        print(report_per_op(per_op(a.device, a.batch, a.repeats, a.threads or None)))
    else:
        print(report(run(a.device, a.batch, a.repeats, a.threads or None)))


if __name__ == "__main__":
    main()
