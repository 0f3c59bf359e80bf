"""degrade: batched, replayable image degradations (torch / torchvision / kornia).

Quick start (``x`` is float in [0, 1] or uint8, on any device):

>>> import torch, degrade
>>> g = torch.Generator().manual_seed(0)
>>> x = torch.rand(4, 3, 64, 64)
>>> y, params = degrade.Degrader("qpt-v2")(x, generator=g)
>>> torch.equal(degrade.Degrader("qpt-v2").replay(x, params), y)
True
>>> z = degrade.apply(x, op="gaussian_blur", level=3, generator=g)
>>> "gaussian_blur" in degrade.list_ops() and "qpt-v2" in degrade.list_presets()
True

Ops live in :mod:`degrade.ops` (functional and module forms), pipelines in
:mod:`degrade.compose` and :mod:`degrade.presets`; see ``degrade/README.md``.
``degrade`` depends on torch, torchvision and kornia; the ``jpeg2000`` op imports Pillow
lazily (no JPEG2000 codec exists in the torch stack), and OpenCV, when installed, backs the
CPU forms of the common ops (:mod:`degrade._cv`). Outputs keep the input's dtype: uint8 in,
uint8 out; float in, float out.
"""

from degrade import ops  # registers every op; ``degrade.ops.X`` works after ``import degrade``
from degrade.compose import OneOf, Op, Repeat, Seq
from degrade.degrader import Degrader
from degrade.presets import get_preset, list_presets
from degrade.registry import DegradeOp, OpSpec, Param, RandomOp, apply, get_op, list_ops

__all__ = [
    "Degrader",
    "DegradeOp",
    "OneOf",
    "Op",
    "OpSpec",
    "Param",
    "RandomOp",
    "Repeat",
    "Seq",
    "apply",
    "get_op",
    "get_preset",
    "list_ops",
    "list_presets",
    "ops",
]
