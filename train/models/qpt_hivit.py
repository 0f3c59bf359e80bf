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

from .hivit import SIZES, HierarchicalEncoder
from .registry import register_sizes


class QptHiViT(HierarchicalEncoder):
    """Hierarchical ViT encoder, qpt's variant (see the module docstring).

    Args:
        img_size: square input size (multiple of 16).
        embed_dim: C, width of the attention stage; the MLP stages use C/4 and C/2.
        depths: blocks per stage (MLP, MLP, attention).
        num_heads: attention heads of the main stage.
        stem_mlp_ratio: MLP ratio of the early stages; mlp_ratio: of the main stage.
        drop_path_rate: stochastic depth, increasing linearly over all blocks.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_features``: (B, embed_dim)

    Example:
        >>> import torch
        >>> m = QptHiViT(img_size=64, embed_dim=64, depths=(1, 1, 1), num_heads=2)
        >>> m.forward_features(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 64])
    """

    def __init__(
        self,
        img_size: int = 224,
        embed_dim: int = 384,
        depths: tuple[int, int, int] = (1, 1, 10),
        num_heads: int = 6,
        stem_mlp_ratio: float = 3.0,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__(
            img_size,
            embed_dim,
            depths,
            num_heads,
            stem_mlp_ratio,
            mlp_ratio,
            drop_path_rate,
            mlp_blocks=1,
            norm_eps=1e-5,
            block_eps=1e-6,
            ape="timm_sincos",
            rpe="shared",
            out="norm",
        )


register_sizes("qpt_hivit", QptHiViT, SIZES, "qpt's HiViT variant")
