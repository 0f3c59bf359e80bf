"""ViT in MAE's (and timm's) layout: class token first, positions for [cls] + patches.

MAE's ``MaskedAutoencoderViT`` encoder: 16x16 patch embedding, fixed sin-cos positions with a
zero row for the class token, pre-norm blocks, LayerNorm eps 1e-6, a final ``norm``. A
fine-tuned MAE / timm ``global_pool="avg"`` model has ``fc_norm`` on the pooled tokens
instead (``out="fc_norm"``). qpt's ViT without a class token is :mod:`.qpt_vit`; both are
:class:`ViTEncoder` with their own settings.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

import torch
from timm.layers import PatchEmbed, trunc_normal_
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, PosEmbed, init_weights, register_pos_embed, xavier_flat_
from .blocks import drop_path_rates
from .masking import gather_tokens
from .registry import register_sizes


class ViTEncoder(Encoder):
    """A ViT with 16x16 patches whose masked patches are dropped first, with what its variants
    set: :class:`VisionTransformer` (MAE's) and :class:`~.qpt_vit.QptViT` (qpt's) bind the
    keywords after ``drop_path_rate``.

    Args:
        img_size: square input size (multiple of 16).
        embed_dim, depth, num_heads, mlp_ratio: the transformer.
        drop_path_rate: stochastic depth, rising linearly.
        norm_eps: LayerNorm epsilon of the final norm; block_eps: of the blocks.
        class_token: a class token in front of the patches (MAE's); its position is a zero row.
        pos: absolute positions (see :data:`~.base.PosEmbed`; not ``"none"``).
        out: ``"norm"`` (normalised tokens) or ``"fc_norm"`` (pooled, then normalised).
        taps: MSFF stages after 1/3 and 2/3 of the blocks too (else the last only).

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_latent(x, ids_keep)``: (B, prefix + L, embed_dim), class token first
        - ``forward_stages``: patch tokens (B, L, embed_dim) of each stage, no class token
        - ``forward_tokens``: (B, N, embed_dim) patch tokens; ``forward_features``: (B, D)
    """

    def __init__(
        self,
        img_size: int = 224,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
        *,
        norm_eps: float,
        block_eps: float,
        class_token: bool,
        pos: PosEmbed,
        out: Literal["norm", "fc_norm"],
        taps: bool,
    ) -> None:
        super().__init__()
        if img_size % 16:
            raise ValueError(f"ViT img_size must be a multiple of 16, got {img_size}")
        self.img_size, self.patch_size, self.out = img_size, 16, out
        self.grid_size = (img_size // 16, img_size // 16)
        self.num_features = embed_dim
        self.num_prefix_tokens = int(class_token)
        self.patch_embed = PatchEmbed(img_size, 16, 3, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.pos_embed: Tensor
        register_pos_embed(self, pos, self.grid_size, embed_dim, cls_token=class_token)
        block_norm = partial(nn.LayerNorm, eps=block_eps)
        self.blocks = nn.ModuleList(
            Block(
                embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=d, norm_layer=block_norm
            )
            for d in drop_path_rates(drop_path_rate, depth)
        )
        if out == "norm":
            self.norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        else:
            self.fc_norm = nn.LayerNorm(embed_dim, eps=norm_eps)
        tapped = {max(1, depth // 3), max(1, 2 * depth // 3)} - {depth} if taps else set()
        self.taps = sorted(tapped)
        self.stage_dims = [embed_dim] * (len(self.taps) + 1)
        self.apply(init_weights)
        xavier_flat_(self.patch_embed.proj.weight)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)

    def _encode(self, x: Tensor, ids_keep: Tensor | None) -> tuple[list[Tensor], Tensor]:
        """The tapped patch tokens [(B, L, D)] and the latent (B, prefix + L, D)."""
        prefix = self.num_prefix_tokens
        pos = self.pos_embed.to(x.dtype)
        x = self.patch_embed(self._check_input(x)) + pos[:, prefix:]
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        if self.cls_token is not None:
            cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
            x = torch.cat([cls, x], dim=1)
        tapped = []
        for i, blk in enumerate(self.blocks, start=1):
            x = blk(x)
            if i in self.taps:
                tapped.append(self._patch_tokens(x))
        return tapped, self.norm(x) if self.out == "norm" else x

    def forward_latent(self, x: Tensor, ids_keep: Tensor | None = None) -> Tensor:
        """(B, 3, H, W) in [0, 1], visible patches ``ids_keep`` (B, L) -> (B, prefix + L, D)."""
        return self._encode(x, ids_keep)[1]

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        """The tapped patch tokens, then those of :meth:`forward_latent`: (B, L, D) each."""
        tapped, latent = self._encode(x, ids_keep)
        return [*tapped, self._patch_tokens(latent)]

    def _patch_tokens(self, x: Tensor) -> Tensor:
        """(B, prefix + L, D) -> (B, L, D); no slice without a prefix, so that the backward
        pass adds the gradients of a tapped stage in the same order as a plain ViT's."""
        return x[:, self.num_prefix_tokens :] if self.num_prefix_tokens else x

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D): mean of the patch tokens (then ``fc_norm``)."""
        pooled = self.forward_tokens(x).mean(dim=1)
        return self.fc_norm(pooled) if self.out == "fc_norm" else pooled


class VisionTransformer(ViTEncoder):
    """MAE / timm ViT encoder with a class token.

    Args:
        pos: ``"sincos"`` (MAE's fixed table, a persistent buffer) or ``"learned"`` (timm).
        out: ``"norm"`` (normalised tokens) or ``"fc_norm"`` (pooled, then normalised).
        norm_eps: LayerNorm epsilon.
        kwargs: the transformer (``img_size``, ``embed_dim``, ``depth``, ``num_heads``,
            ``mlp_ratio``, ``drop_path_rate``) as :class:`ViTEncoder`'s.

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_latent(x, ids_keep)``: (B, 1 + L, embed_dim), class token first
        - ``forward_tokens``: (B, N, embed_dim) patch tokens; ``forward_features``: (B, D)
    """

    def __init__(
        self,
        *,
        pos: Literal["sincos", "learned"] = "sincos",
        out: Literal["norm", "fc_norm"] = "norm",
        norm_eps: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        if pos not in ("sincos", "learned") or out not in ("norm", "fc_norm"):
            raise ValueError(f"ViT: unknown pos '{pos}' or out '{out}'")
        settings = dict(norm_eps=norm_eps, block_eps=norm_eps, class_token=True, taps=False)
        super().__init__(**kwargs, **settings, pos=pos, out=out)


SIZES = {
    "tiny": dict(embed_dim=192, depth=12, num_heads=3),
    "small": dict(embed_dim=384, depth=12, num_heads=6),
    "base": dict(embed_dim=768, depth=12, num_heads=12),
    "large": dict(embed_dim=1024, depth=24, num_heads=16),
}


register_sizes("vit", VisionTransformer, SIZES, "ViT/16 with a class token (MAE's)")
