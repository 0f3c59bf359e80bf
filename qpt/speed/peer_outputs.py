"""Whether a peer computes what degrade computes: outputs of any library on one scale.

The speed table compares rates; these functions say, next to each rate, how far a peer's
output is from degrade's on the same batch, so that a fast peer that computes something
else (another definition, or a different JPEG file) shows as such.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

#: PSNR reported for identical outputs (and the cap of any other)
SAME_DB = 100.0
#: from this PSNR on, two deterministic outputs count as the same computation (the bar the
#: ImageNet-C fidelity tests hold degrade to)
AGREE_DB = 40.0


def as_nchw255(out: Any, kind: str, dtype: str) -> np.ndarray:
    """A library's output for a batch as (B, C, H, W) float64 in 0..255.

    Args:
        out: a (B, C, H, W) tensor (``kind`` "batch" or degrade's own output) or a list of
            per-image (H, W, C) arrays.
        kind: the input kind the library took: "batch", "hwc" (values in the input's own
            scale: [0, 1] for float), "hwc255" or "pil" (0..255 whatever the dtype).
        dtype: "uint8" or "float", the input type of the run.
    """
    if isinstance(out, torch.Tensor):
        arr = out.detach().cpu().double().numpy()
    else:
        arr = np.stack([np.asarray(im, dtype=np.float64) for im in out]).transpose(0, 3, 1, 2)
    unit_scale = dtype == "float" and kind in ("batch", "hwc")
    return arr * 255.0 if unit_scale else arr


def agreement(reference: np.ndarray, other: np.ndarray) -> dict[str, Any]:
    """PSNR (dB, peak 255, capped at :data:`SAME_DB`) and largest absolute difference
    (grey levels) between two (B, C, H, W) outputs on the 0..255 scale; ``{"shape": ...}``
    instead when the other output has another shape (imagecorruptions' pixelate returns
    224 px whatever it is given)."""
    if reference.shape != other.shape:
        return {"shape": list(other.shape[1:])}
    diff = reference - other
    mse = float(np.mean(diff * diff))
    psnr = SAME_DB if mse == 0 else min(SAME_DB, 10 * math.log10(255.0**2 / mse))
    return {"psnr_db": psnr, "max_abs": float(np.abs(diff).max())}


def describe(a: dict[str, Any] | None) -> str:
    """A cell of the table: "same", "34.0 dB", "random" (an op that draws) or "other size"."""
    if a is None:
        return "random"
    if "shape" in a:
        return "other size"
    if a["max_abs"] == 0:
        return "same"
    return f"{SAME_DB:.0f}+ dB" if a["psnr_db"] >= SAME_DB else f"{a['psnr_db']:.1f} dB"


def computes_the_same(a: dict[str, Any] | None) -> bool | None:
    """Whether an agreement reaches :data:`AGREE_DB` (None for random ops)."""
    if a is None:
        return None
    return "psnr_db" in a and a["psnr_db"] >= AGREE_DB
