"""qpt's own HiViT variant (``qpt_hivit_*``), kept beside the authors' layout (:mod:`.hivit`).

It differs from the authors' HiViT in four ways: each early stage has ``depth`` (not
2 x depth) MLP blocks, LayerNorm eps 1e-5 outside the attention blocks, timm's fixed sin-cos
positions (not saved) *and* one relative position bias shared by all blocks: it is the same
:class:`~.hivit.HierarchicalEncoder` with these settings. It is the model of the default CPU
pipeline (``mae_qpt_hivit_nano``), whose outputs stay as they were.

Layout (qpt_hivit_tiny): 4x4 conv stem to C/4 channels, MLP blocks, 2x2 patch merge to C/2, MLP
blocks, 2x2 merge to C, then attention blocks with relative position bias. Because the early
stages never mix information across 16x16 units, every unit is a tensor (B, N, 4, 4, C/4)
from the stem on, and masked units can be dropped *before* the encoder, like a plain ViT.
"""

from __future__ import annotations

from typing import Any

from .hivit import SIZES, HierarchicalEncoder
from .registry import register_sizes

#: what makes qpt's variant (see the module docstring)
SETTINGS: dict[str, Any] = dict(
    mlp_blocks=1, norm_eps=1e-5, block_eps=1e-6, ape="timm_sincos", rpe="shared", out="norm"
)


class QptHiViT(HierarchicalEncoder):
    """Hierarchical ViT encoder, qpt's variant (see the module docstring).

    Args:
        kwargs: the layout (``img_size``, ``embed_dim``, ``depths``: blocks per stage (MLP,
            MLP, attention), ``num_heads``, ``stem_mlp_ratio``, ``mlp_ratio``,
            ``drop_path_rate``) as :class:`~.hivit.HierarchicalEncoder`'s.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_features``: (B, embed_dim)

    Example:
        >>> import torch
        >>> m = QptHiViT(img_size=64, embed_dim=64, depths=(1, 1, 1), num_heads=2)
        >>> m.forward_features(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 64])
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, **SETTINGS)


register_sizes("qpt_hivit", QptHiViT, SIZES, "qpt's HiViT variant")
