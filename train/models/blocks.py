"""Building blocks the HiViT and ViT encoders share (timm's ``Block`` with a relative bias,
the residual MLP block and the 2x2 patch merge of HiViT's early stages)."""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import DropPath, Mlp
from timm.layers.pos_embed_rel import RelPosBias
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import attention_dtype


def drop_path_rates(rate: float, n: int) -> list[float]:
    """Stochastic depth rising linearly from 0 to ``rate`` over ``n`` blocks."""
    return [rate * i / max(1, n - 1) for i in range(n)]


def relative_bias(rel_pos: RelPosBias, ids_keep: Tensor | None, dtype: torch.dtype) -> Tensor:
    """The bias of ``rel_pos`` among the visible units: (1, heads, N, N), or (B, heads, L, L)
    for ``ids_keep`` (B, L) (any order), in ``dtype``."""
    bias = rel_pos.get_bias()  # (1, heads, N, N)
    if ids_keep is not None:
        bias = bias[0][:, ids_keep[:, :, None], ids_keep[:, None, :]].transpose(0, 1)
    return bias.to(dtype)


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


class RelPosBlock(Block):
    """timm's pre-norm attention block with its own relative position bias table (or none).

    Shape:
        - x: (B, L, dim); ids_keep: (B, L) unit ids of the tokens, None = all N in order
        - shared_bias: a bias for blocks without a table of their own (see
          :func:`relative_bias`), or None
        - output: (B, L, dim)
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        grid: tuple[int, int],
        rpe: bool,
        drop_path: float = 0.0,
        eps: float = 1e-6,
    ) -> None:
        norm = partial(nn.LayerNorm, eps=eps)
        super().__init__(
            dim, num_heads, mlp_ratio, qkv_bias=True, drop_path=drop_path, norm_layer=norm
        )
        self.rel_pos = RelPosBias(grid, num_heads) if rpe else None

    def forward(  # type: ignore[override]
        self, x: Tensor, ids_keep: Tensor | None = None, shared_bias: Tensor | None = None
    ) -> Tensor:
        bias = shared_bias
        if self.rel_pos is not None:
            bias = relative_bias(self.rel_pos, ids_keep, attention_dtype(x))
        return super().forward(x, attn_mask=bias)
