"""Codec ops: JPEG (real codec via torchvision.io, nvjpeg on CUDA), differentiable JPEG
(kornia), JPEG2000 (CPU round trip through Pillow/OpenJPEG: the one op that imports Pillow,
lazily, because neither torch, torchvision nor kornia encode JPEG2000)."""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator

import torch
from kornia.enhance import jpeg_codec_differentiable
from torch import Tensor
from torchvision.io import ImageReadMode, decode_jpeg, encode_jpeg

from degrade import _cv
from degrade._checks import gpu_path, to_device
from degrade._threads import codec_threads
from degrade.registry import Param, module_form, register, uint8_form

__all__ = ["jpeg", "jpeg_differentiable", "jpeg2000", "JPEG", "JPEGDifferentiable", "JPEG2000"]


def _to_u8(x: Tensor) -> Tensor:
    return x.clamp(0, 1).mul(255.0).round_().to(torch.uint8)


@register(
    "jpeg",
    [Param("quality", (43, 36, 24, 7, 4), 1, 100, kind="int")],
    family="compression",
    tags=("kadid", "realesrgan", "qpt-v2", "imagenet-c"),
    host=True,
    differentiable=False,
)
def jpeg(x: Tensor, quality: Tensor) -> Tensor:
    """JPEG encode + decode at per-sample quality (1-100) with the real codec.

    Uses ``torchvision.io.encode_jpeg``/``decode_jpeg`` on lists (batched; nvjpeg when ``x``
    is on CUDA). Values are rounded to 8 bits first, as any JPEG file is.

    The CUDA encoder is nvjpeg, not libjpeg: at the same quality its files decode slightly
    closer to the original (a few /255 of mean difference from libjpeg's output; figures in
    ``degrade/README.md``). The levels are calibrated on libjpeg (the CPU path, tested against
    PIL and OpenCV).

    Shape: x (B, C, H, W), C in {1, 3}; quality (B,) int.
    """

    qs = quality.clamp(1, 100).tolist()
    if _cv.usable(x) and x.shape[1] in (1, 3):  # OpenCV's libjpeg: the same files, one call less
        return _cv.jpeg(x, qs)
    order = sorted(range(len(qs)), key=lambda i: qs[i])  # samples grouped by quality
    u8 = list(_to_u8(x))
    data: list[Tensor] = []
    for q in sorted(set(qs)):  # the encoder takes one quality per call
        data += encode_jpeg([u8[i] for i in order if qs[i] == q], quality=q)
    if gpu_path(x):  # nvjpeg's files: one copy to the host, not a device sync per file
        data = list(torch.cat(data).cpu().split([len(d) for d in data]))
    dec = torch.stack(decode_jpeg(data, mode=ImageReadMode.UNCHANGED, device=x.device))
    dec = dec.to(x.dtype).div_(255.0)
    if order == sorted(order):
        return dec
    out = torch.empty_like(x)
    out[to_device(torch.tensor(order), x.device)] = dec
    return out


@register(
    "jpeg_differentiable",
    [Param("quality", (43, 36, 24, 7, 4), 1, 100, kind="float")],
    family="compression",
    color=True,
)
def jpeg_differentiable(x: Tensor, quality: Tensor) -> Tensor:
    """Differentiable JPEG approximation (kornia ``jpeg_codec_differentiable``), RGB only.

    Shape: x (B, 3, H, W); quality (B,) in [1, 100]. Gradients flow to ``x`` and ``quality``.
    """
    return jpeg_codec_differentiable(x, quality.clamp(1, 100))


@register(
    "jpeg2000",
    [Param("rate", (12.0, 24.0, 48.0, 96.0, 160.0), 4.0, 200.0)],
    family="compression",
    tags=("kadid",),
    cpu_only=True,
    host=True,
    differentiable=False,
)
def jpeg2000(x: Tensor, rate: Tensor) -> Tensor:
    """JPEG2000 encode + decode at per-sample compression ratio ``rate`` (Pillow/OpenJPEG).

    CPU round trip: no GPU codec exists in torch/torchvision/kornia, so CUDA batches are
    copied to the CPU and back. OpenJPEG runs on the caller's ``torch.get_num_threads()``
    threads, also inside Degrader workers (the files are the same for any count; more threads
    code an image faster). Pillow holds the GIL while it codes, so images
    go one after another.

    Shape: x (B, C, H, W); rate (B,) (e.g. 100 = 100:1).
    """
    from PIL import Image  # lazy: the only non-torch import in degrade (see module doc)

    u8 = _to_u8(x).permute(0, 2, 3, 1).cpu().numpy()
    out = torch.empty_like(x)
    with openjpeg_threads(codec_threads()):
        for i, r in enumerate(rate.tolist()):
            arr = u8[i, :, :, 0] if u8.shape[-1] == 1 else u8[i]
            buf = io.BytesIO()
            Image.fromarray(arr).save(
                buf,
                format="JPEG2000",
                quality_mode="rates",
                quality_layers=[max(1.0, float(r))],
                irreversible=True,
            )
            buf.seek(0)
            with Image.open(buf) as im:
                dec = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
            out[i] = dec.view(x.shape[2], x.shape[3], x.shape[1]).permute(2, 0, 1).to(out)
    return out.div_(255.0)


_OPENJPEG = threading.Lock()


@contextlib.contextmanager
def openjpeg_threads(n: int) -> Iterator[None]:
    """OpenJPEG codecs created inside the block use ``n`` threads (one: none besides the
    caller), unless the user has set ``OPJ_NUM_THREADS`` (which OpenJPEG reads when it
    creates a codec; Pillow has no option).

    One block at a time in the process: the environment is not changed while another thread's
    codec may read it (Degrader workers). Pillow holds the GIL while coding anyway.
    """
    with _OPENJPEG:
        # unset means no pool: coding runs in the caller, faster than a pool of one
        if n <= 1 or "OPJ_NUM_THREADS" in os.environ:
            yield
            return
        os.environ["OPJ_NUM_THREADS"] = str(n)
        try:
            yield
        finally:
            os.environ.pop("OPJ_NUM_THREADS", None)


@uint8_form("jpeg")
def _jpeg_u8(x: Tensor, quality: Tensor) -> Tensor:
    return _cv.jpeg(x, quality.clamp(1, 100).tolist())


JPEG = module_form("JPEG", "jpeg")

JPEGDifferentiable = module_form("JPEGDifferentiable", "jpeg_differentiable")

JPEG2000 = module_form("JPEG2000", "jpeg2000")
