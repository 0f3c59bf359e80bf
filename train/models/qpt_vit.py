"""qpt's plain ViT (``qpt_vit_*``): no class token, fixed sin-cos positions, mean pooling.

MAE's own ViT layout (class token first) is :mod:`.vit`."""

from __future__ import annotations

from typing import Any

from .registry import register_sizes
from .vit import SIZES, ViTEncoder

#: what makes qpt's variant
SETTINGS: dict[str, Any] = dict(
    norm_eps=1e-5, block_eps=1e-6, class_token=False, pos="timm_sincos", out="norm", taps=True
)


class QptViT(ViTEncoder):
    """ViT with 16x16 patches, timm's fixed sin-cos positions (not saved), LayerNorm eps 1e-5
    in the final norm (1e-6 in the blocks) and no class token; masked patches are dropped first.

    For MSFF the "stages" are the outputs after 1/3, 2/3 and all of the blocks.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_features``: (B, embed_dim)
    """

    def __init__(self, **kwargs: Any) -> None:
        """``kwargs``: the transformer (``img_size``, ``embed_dim``, ``depth``, ``num_heads``,
        ``mlp_ratio``, ``drop_path_rate``) as :class:`~.vit.ViTEncoder`'s."""
        super().__init__(**kwargs, **SETTINGS)


register_sizes("qpt_vit", QptViT, {s: SIZES[s] for s in ("tiny", "small", "base")}, "qpt's ViT/16")
