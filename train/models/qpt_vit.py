"""qpt's plain ViT (``qpt_vit_*``): no class token, fixed sin-cos positions, mean pooling.

MAE's own ViT layout (class token first) is :mod:`.vit`."""

from __future__ import annotations

from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, init_weights, sincos_pos_embed
from .masking import gather_tokens
from .registry import register_model


class QptViT(Encoder):
    """ViT with 16x16 patches and fixed sin-cos positions; masked patches are dropped first.

    For MSFF the "stages" are the outputs after 1/3, 2/3 and all of the blocks.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_features``: (B, embed_dim)
    """

    def __init__(
        self,
        img_size: int = 224,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if img_size % 16:
            raise ValueError(f"ViT img_size must be a multiple of 16, got {img_size}")
        self.img_size, self.patch_size = img_size, 16
        self.grid_size = (img_size // 16, img_size // 16)
        self.num_features = embed_dim
        self.patch_embed = PatchEmbed(img_size, 16, 3, embed_dim)
        self.register_buffer("pos_embed", sincos_pos_embed(self.grid_size, embed_dim), False)
        dpr = [drop_path_rate * i / max(1, depth - 1) for i in range(depth)]
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[i])
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.taps = sorted({max(1, depth // 3), max(1, 2 * depth // 3)} - {depth})
        self.stage_dims = [embed_dim] * (len(self.taps) + 1)
        self.apply(init_weights)
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        x = self.patch_embed(self._check_input(x)) + self.pos_embed.to(x.dtype)
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        out = []
        for i, blk in enumerate(self.blocks, start=1):
            x = blk(x)
            if i in self.taps:
                out.append(x)
        return [*out, self.norm(x)]


_SIZES = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
}


@register_model
def qpt_vit_tiny(**kwargs) -> QptViT:
    """ViT-Ti/16: 192 dims, 12 blocks, 3 heads."""
    return QptViT(**{**_SIZES["tiny"], **kwargs})


@register_model
def qpt_vit_small(**kwargs) -> QptViT:
    """ViT-S/16: 384 dims, 12 blocks, 6 heads."""
    return QptViT(**{**_SIZES["small"], **kwargs})


@register_model
def qpt_vit_base(**kwargs) -> QptViT:
    """ViT-B/16: 768 dims, 12 blocks, 12 heads."""
    return QptViT(**{**_SIZES["base"], **kwargs})
