"""sRGB <-> CIELAB (D65), the formulas of ``kornia.color.rgb_to_lab`` / ``lab_to_rgb``.

Written out because kornia's versions spend most of their time in ``torch.pow`` with float
exponents, which on CPU is slower than ``exp(e * log(v))``, and a round trip takes four.
Agreement with kornia is tested to 2e-4 in Lab units. On CPU, :func:`ab_images` runs the
round trip of the ops that edit a* and b* image by image, in fewer passes (below).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from degrade import _cv
from degrade._checks import to_like

_RGB2XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_XYZ2RGB = (
    (3.2404813432005266, -1.5371515162713185, -0.4985363261688878),
    (-0.9692549499965682, 1.8759900014898907, 0.0415559265582928),
    (0.0556466391351772, -0.2040413383665112, 1.0573110696453443),
)
_WHITE = (0.95047, 1.0, 1.08883)


def _pow(v: Tensor, e: float) -> Tensor:
    """``v ** e`` for v > 0 as ``exp(e log v)`` (the fast path on CPU)."""
    return v.log().mul_(e).exp_()


def color_matrix(x: Tensor, m: Tensor) -> Tensor:
    """3 x 3 colour matrix per pixel: x (B, 3, H, W), m (3, 3) or per sample (B, 3, 3).

    A batched matmul over flattened pixels (faster than the equivalent einsum on CPU).
    """
    return torch.matmul(m, x.flatten(2)).view_as(x)


def _affine(m: Tensor, x: Tensor, bias: Tensor | None = None) -> Tensor:
    """Per-pixel ``m @ x + bias``: (B, 3, H, W) -> (B, 3, H, W), m (3, 3) float64, bias (3,)."""
    y = color_matrix(x, to_like(m, x))
    return y if bias is None else y.add_(to_like(bias, x).view(1, 3, 1, 1))


_W = torch.tensor(_WHITE, dtype=torch.float64)
#: linear sRGB -> XYZ / white (the D65 normalisation folded in)
_TO_XYZN = torch.tensor(_RGB2XYZ, dtype=torch.float64) / _W[:, None]
#: XYZ / white -> linear sRGB
_FROM_XYZN = torch.tensor(_XYZ2RGB, dtype=torch.float64) * _W[None, :]
#: (fx, fy, fz) -> (L + 16, a, b), and its inverse
_F_TO_LAB = torch.tensor(
    [[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]], dtype=torch.float64
)
_LAB_TO_F = torch.linalg.inv(_F_TO_LAB)
#: the offsets of (L, a, b) after _F_TO_LAB, and of f after _LAB_TO_F
_LAB_BIAS = torch.tensor([-16.0, 0.0, 0.0])
_F_BIAS = torch.full((3,), 16.0 / 116.0)


def _join(x: Tensor, t: float, upper: Callable[[Tensor], Tensor], slope: float) -> Tensor:
    """A piecewise curve, ``upper(x)`` above ``t`` and a line of ``slope`` below, that is
    continuous at ``t``: ``upper(max(x, t)) + slope * (min(x, t) - t)``.

    Two clamps instead of a comparison and ``torch.where``, which on CPU cost several
    arithmetic passes. The sRGB / CIELAB constants join to within 5e-7, so this equals the
    two-branch form of kornia to float rounding (tested).
    """
    return upper(x.clamp_min(t)).add_(x.clamp_max(t).sub_(t).mul_(slope))


def rgb_to_lab(x: Tensor) -> Tensor:
    """sRGB (B, 3, H, W) in [0, 1] -> CIELAB (L in [0, 100], a and b about [-128, 127])."""
    lin = _join(x, 0.04045, lambda v: _pow(v.add(0.055).div_(1.055), 2.4), 1 / 12.92)
    xyz = _affine(_TO_XYZN, lin)
    f = _join(xyz, 0.008856, lambda v: _pow(v, 1 / 3), 7.787)
    return _affine(_F_TO_LAB, f, _LAB_BIAS)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """CIELAB (B, 3, H, W) -> sRGB (B, 3, H, W), clipped to [0, 1]."""
    f = _affine(_LAB_TO_F, lab, _F_BIAS)
    f[:, 2:3].clamp_min_(0.0)  # out of gamut: z < 0
    xyz = _join(f, 0.2068966, lambda v: v * v * v, 1 / 7.787)
    lin = _affine(_FROM_XYZN, xyz)
    srgb = _join(lin, 0.0031308, lambda v: _pow(v, 1 / 2.4).mul_(1.055).sub_(0.055), 12.92)
    return srgb.clamp_(0.0, 1.0)


# CPU, one image at a time while it is in cache: the same formulas in fewer passes. Each
# curve's upper branch runs on every value and the values at or below its knee are
# replaced through a mask (when there are any); the constants of (x + 0.055) / 1.055 go into
# the matrix; a cube root instead of exp(log / 3). Lab itself is never formed: the ab
# transforms are written on f = (fx, fy, fz), in which L is fy alone.

#: ((x + 0.055) / 1.055) ** 2.4 is (x + 0.055) ** 2.4 times this, folded into the matrix
_K_IN = 1.055**-2.4
_TO_XYZN_CPU = (_TO_XYZN * _K_IN).float()
_FROM_XYZN_CPU = _FROM_XYZN.float()


def _below_knee(
    src: np.ndarray, dst: np.ndarray, knee: float, line: Callable[[np.ndarray], np.ndarray]
) -> None:
    """``dst = line(src)`` where ``src <= knee``: a curve's linear branch."""
    cv2 = _cv.cv2_module()
    mask = cv2.compare(src, knee, cv2.CMP_LE)
    if cv2.countNonZero(mask):
        cv2.copyTo(line(src), mask, dst)


def srgb_to_f(img: Tensor) -> Tensor:
    """One sRGB image (3, H, W) float32 in [0, 1] -> (3, H W) CIELAB's f = (fx, fy, fz):
    ``L = 116 fy - 16``, ``a = 500 (fx - fy)``, ``b = 200 (fy - fz)``."""
    x = img.reshape(3, -1)
    lin = torch.add(x, 0.055).log_().mul_(2.4).exp_()
    _below_knee(x.numpy(), lin.numpy(), 0.04045, lambda v: v * np.float32(1 / 12.92 / _K_IN))
    xyz = torch.matmul(_TO_XYZN_CPU, lin).numpy()
    f = np.cbrt(xyz)
    _below_knee(xyz, f, 0.008856, lambda v: v * np.float32(7.787) + np.float32(16 / 116))
    return torch.from_numpy(f)


def f_to_srgb(f: Tensor, out: Tensor) -> None:
    """:func:`srgb_to_f`'s inverse, clipped to [0, 1] as :func:`lab_to_rgb`, into ``out``
    (3, H, W) float32; ``f`` (3, H W) is overwritten."""
    f[2].clamp_min_(0.0)  # out of gamut: z < 0
    xyz = f * f * f
    _below_knee(
        f.numpy(), xyz.numpy(), 0.2068966, lambda v: (v - np.float32(16 / 116)) / np.float32(7.787)
    )
    lin = torch.matmul(_FROM_XYZN_CPU, xyz)
    # clamped to the knee first: the log of values at or below it is never used
    srgb = lin.clamp_min(0.0031308).log_().mul_(1 / 2.4).add_(math.log(1.055)).exp_().sub_(0.055)
    _below_knee(lin.numpy(), srgb.numpy(), 0.0031308, lambda v: v * np.float32(12.92))
    torch.clamp(srgb.view_as(out), 0.0, 1.0, out=out)


def ab_images(x: Tensor, edit: Callable[[int, Tensor], None]) -> Tensor:
    """sRGB -> CIELAB -> sRGB for each image of a CPU float32 batch (B, 3, H, W), with
    ``edit(i, f)`` changing image i's a* and b* in between by rewriting fx and fz of its f
    (3, H W) in place (:func:`srgb_to_f`). Equals the batch form to float rounding."""
    x = x.contiguous()
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        f = srgb_to_f(x[i])
        edit(i, f)
        f_to_srgb(f, out[i])
    return _cv.mark_clamped(out)
