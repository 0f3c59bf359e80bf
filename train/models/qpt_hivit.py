"""qpt's own HiViT variant (``qpt_hivit_*``), kept beside the authors' layout (:mod:`.hivit`).

It differs from the authors' HiViT in four ways: each early stage has ``depth`` (not
2 x depth) MLP blocks, LayerNorm eps 1e-5 outside the attention blocks, fixed sin-cos
positions *and* one relative position bias shared by all blocks. It is the model of the
default CPU pipeline (``mae_qpt_hivit_nano``), whose outputs stay as they were.

Layout (qpt_hivit_tiny): 4x4 conv stem to C/4 channels, MLP blocks, 2x2 patch merge to C/2, MLP
blocks, 2x2 merge to C, then attention blocks with relative position bias. Because the early
stages never mix information across 16x16 units, every unit is a tensor (B, N, 4, 4, C/4)
from the stem on, and masked units can be dropped *before* the encoder, like a plain ViT.
"""

from __future__ import annotations

import torch
from timm.layers import DropPath, Mlp, trunc_normal_
from timm.layers.pos_embed_rel import RelPosBias
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, attention_dtype, init_weights, sincos_pos_embed
from .masking import gather_tokens
from .registry import register_model


class MlpBlock(nn.Module):
    """Pre-norm residual MLP on the last dim: x + drop_path(mlp(norm(x))). Any leading shape."""

    def __init__(
        self, dim: int, mlp_ratio: float, drop_path: float = 0.0, eps: float = 1e-5
    ) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.drop_path(self.mlp(self.norm(x)))


class PatchMerge(nn.Module):
    """2x2 merge inside each mask unit: (B, L, h, w, C) -> (B, L, h/2, w/2, 2C)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        # Swin / HiViT order: (0,0), (1,0), (0,1), (1,1) sub-positions
        x0 = x[..., 0::2, 0::2, :]
        x1 = x[..., 1::2, 0::2, :]
        x2 = x[..., 0::2, 1::2, :]
        x3 = x[..., 1::2, 1::2, :]
        return self.reduction(self.norm(torch.cat([x0, x1, x2, x3], dim=-1)))


class QptHiViT(Encoder):
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
        super().__init__()
        if img_size % 16:
            raise ValueError(f"HiViT img_size must be a multiple of 16, got {img_size}")
        if embed_dim % 4 or embed_dim % num_heads:
            raise ValueError(f"HiViT embed_dim {embed_dim} must divide by 4 and by num_heads")
        self.img_size, self.patch_size = img_size, 16
        self.grid_size = (img_size // 16, img_size // 16)
        self.num_features = embed_dim
        dims = [embed_dim // 4, embed_dim // 2, embed_dim]
        # per mask unit, flattened: 4x4 sub-tokens, 2x2 sub-tokens, 1 token
        self.stage_dims = [16 * dims[0], 4 * dims[1], dims[2]]

        self.patch_embed = nn.Conv2d(3, dims[0], kernel_size=4, stride=4)
        self.patch_norm = nn.LayerNorm(dims[0])
        dpr = [drop_path_rate * i / max(1, sum(depths) - 1) for i in range(sum(depths))]
        d1, d2, _ = depths
        self.stage1 = nn.Sequential(*[MlpBlock(dims[0], stem_mlp_ratio, dpr[i]) for i in range(d1)])
        self.merge1 = PatchMerge(dims[0])
        self.stage2 = nn.Sequential(
            *[MlpBlock(dims[1], stem_mlp_ratio, dpr[d1 + i]) for i in range(d2)]
        )
        self.merge2 = PatchMerge(dims[1])
        self.register_buffer("pos_embed", sincos_pos_embed(self.grid_size, embed_dim), False)
        self.rel_pos = RelPosBias(self.grid_size, num_heads)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=dpr[d1 + d2 + i])
            for i in range(depths[2])
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.apply(init_weights)
        trunc_normal_(self.rel_pos.relative_position_bias_table, std=0.02)
        w = self.patch_embed.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))

    def _units(self, x: Tensor) -> Tensor:
        """Stem: (B, 3, H, W) -> (B, N, 4, 4, C/4), one 4x4 grid of sub-tokens per unit."""
        x = self.patch_embed(x)  # (B, C/4, H/4, W/4)
        b, c, h, w = x.shape
        gh, gw = h // 4, w // 4
        x = x.reshape(b, c, gh, 4, gw, 4).permute(0, 2, 4, 3, 5, 1)
        return self.patch_norm(x.reshape(b, gh * gw, 4, 4, c))

    def _attn_bias(self, ids_keep: Tensor | None, dtype: torch.dtype) -> Tensor:
        """Relative position bias for the visible units: (1|B, heads, L, L)."""
        bias = self.rel_pos.get_bias()  # (1, heads, N, N)
        if ids_keep is not None:
            idx = ids_keep
            bias = bias[0][:, idx[:, :, None], idx[:, None, :]].transpose(0, 1)
        return bias.to(dtype)

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        x = self._units(self._check_input(x))
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        b, n = x.shape[:2]
        s1 = self.stage1(x)
        s2 = self.stage2(self.merge1(s1))
        t = self.merge2(s2).reshape(b, n, -1)
        pos = self.pos_embed.expand(b, -1, -1)
        t = t + (gather_tokens(pos, ids_keep) if ids_keep is not None else pos).to(t.dtype)
        bias = self._attn_bias(ids_keep, attention_dtype(t))
        for blk in self.blocks:
            t = blk(t, attn_mask=bias)
        return [s1.reshape(b, n, -1), s2.reshape(b, n, -1), self.norm(t)]


_SIZES = {
    "nano": dict(embed_dim=128, depths=(1, 1, 2), num_heads=4),
    "tiny": dict(embed_dim=384, depths=(1, 1, 10), num_heads=6),
    "small": dict(embed_dim=384, depths=(2, 2, 20), num_heads=6),
    "base": dict(embed_dim=512, depths=(2, 2, 20), num_heads=8),
}


def _hivit(size: str, **kwargs) -> QptHiViT:
    return QptHiViT(**{**_SIZES[size], **kwargs})


@register_model
def qpt_hivit_nano(**kwargs) -> QptHiViT:
    """qpt HiViT-nano (128 dims, depths [1,1,2], 4 heads): for CPU tests and smoke runs."""
    return _hivit("nano", **kwargs)


@register_model
def qpt_hivit_tiny(**kwargs) -> QptHiViT:
    """qpt HiViT-T layout: 384 dims, depths [1,1,10], 6 heads (18.40 M parameters)."""
    return _hivit("tiny", **kwargs)


@register_model
def qpt_hivit_small(**kwargs) -> QptHiViT:
    """qpt HiViT-S layout: 384 dims, depths [2,2,20], 6 heads."""
    return _hivit("small", **kwargs)


@register_model
def qpt_hivit_base(**kwargs) -> QptHiViT:
    """qpt HiViT-B layout: 512 dims, depths [2,2,20], 8 heads."""
    return _hivit("base", **kwargs)
