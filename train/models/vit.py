"""ViT in MAE's (and timm's) layout: class token first, positions for [cls] + patches.

MAE's ``MaskedAutoencoderViT`` encoder: 16x16 patch embedding, fixed sin-cos positions with a
zero row for the class token, pre-norm blocks, LayerNorm eps 1e-6, a final ``norm``. A
fine-tuned MAE / timm ``global_pool="avg"`` model has ``fc_norm`` on the pooled tokens
instead (``out="fc_norm"``). qpt's ViT without a class token is :mod:`.qpt_vit`.
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch
from timm.layers import PatchEmbed, trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, init_weights, mae_sincos_pos_embed
from .masking import gather_tokens
from .registry import register_model


class VisionTransformer(Encoder):
    """MAE / timm ViT encoder with a class token.

    Args:
        img_size: square input size (multiple of 16).
        embed_dim, depth, num_heads, mlp_ratio: the transformer.
        pos: ``"sincos"`` (MAE's fixed table, a persistent buffer) or ``"learned"`` (timm).
        out: ``"norm"`` (normalised tokens) or ``"fc_norm"`` (pooled, then normalised).
        drop_path_rate: stochastic depth, rising linearly.
        norm_eps: LayerNorm epsilon.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_latent(x, ids_keep)``: (B, 1 + L, embed_dim), class token first
        - ``forward_tokens``: (B, N, embed_dim) patch tokens; ``forward_features``: (B, D)
    """

    num_prefix_tokens = 1

    def __init__(
        self,
        img_size: int = 224,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        pos: Literal["sincos", "learned"] = "sincos",
        out: Literal["norm", "fc_norm"] = "norm",
        drop_path_rate: float = 0.0,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if img_size % 16:
            raise ValueError(f"ViT img_size must be a multiple of 16, got {img_size}")
        if pos not in ("sincos", "learned") or out not in ("norm", "fc_norm"):
            raise ValueError(f"ViT: unknown pos '{pos}' or out '{out}'")
        self.img_size, self.patch_size, self.out = img_size, 16, out
        self.grid_size = (img_size // 16, img_size // 16)
        self.num_features = embed_dim
        self.stage_dims = [embed_dim]
        self.patch_embed = PatchEmbed(img_size, 16, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        table = mae_sincos_pos_embed(self.grid_size, embed_dim, cls_token=True)
        self.pos_embed: Tensor
        if pos == "learned":
            self.pos_embed = nn.Parameter(table)
        else:
            self.register_buffer("pos_embed", table)
        dpr = [drop_path_rate * i / max(1, depth - 1) for i in range(depth)]
        norm = partial(nn.LayerNorm, eps=norm_eps)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=d, norm_layer=norm)
            for d in dpr
        )
        if out == "norm":
            self.norm = norm(embed_dim)
        else:
            self.fc_norm = norm(embed_dim)
        self.apply(init_weights)
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        trunc_normal_(self.cls_token, std=0.02)

    def forward_latent(self, x: Tensor, ids_keep: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1], visible patches ``ids_keep`` (B, L) -> (B, 1 + L, D)."""
        pos = self.pos_embed.to(x.dtype)
        x = self.patch_embed(self._check_input(x)) + pos[:, 1:]
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x) if self.out == "norm" else x

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        """One stage: the patch tokens of :meth:`forward_latent` (B, L, D), no class token."""
        return [self.forward_latent(x, ids_keep)[:, 1:]]

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D): mean of the patch tokens (then ``fc_norm``)."""
        pooled = self.forward_tokens(x).mean(dim=1)
        return self.fc_norm(pooled) if self.out == "fc_norm" else pooled


SIZES = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}


@register_model
def vit_tiny(**kwargs) -> VisionTransformer:
    """ViT-Ti/16: 192 dims, 12 blocks, 3 heads, class token."""
    return VisionTransformer(**{**SIZES["tiny"], **kwargs})


@register_model
def vit_small(**kwargs) -> VisionTransformer:
    """ViT-S/16: 384 dims, 12 blocks, 6 heads, class token."""
    return VisionTransformer(**{**SIZES["small"], **kwargs})


@register_model
def vit_base(**kwargs) -> VisionTransformer:
    """ViT-B/16: 768 dims, 12 blocks, 12 heads, class token (MAE's ``mae_vit_base_patch16``)."""
    return VisionTransformer(**{**SIZES["base"], **kwargs})


@register_model
def vit_large(**kwargs) -> VisionTransformer:
    """ViT-L/16: 1024 dims, 24 blocks, 16 heads, class token."""
    return VisionTransformer(**{**SIZES["large"], **kwargs})
