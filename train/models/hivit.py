"""HiViT as its authors define it (Zhang et al., ICLR 2023; github.com/zhangxiaosong18/hivit).

Layout: a 4x4 conv stem to C/4 channels + LayerNorm; stage 1 is ``2 x depths[0]`` MLP blocks
(ratio 3) at C/4; a 2x2 patch merge to C/2; stage 2 is ``2 x depths[1]`` MLP blocks; a merge
to C; then ``depths[2]`` attention blocks. LayerNorm eps 1e-6 everywhere. The early stages
never mix information across 16x16 units, so every unit is a (4, 4, C/4) tensor from the
stem on and masked units are dropped *before* the encoder, as in a plain ViT.

The authors use it two ways, and the options follow them:

* supervised ``HiViT``: learned absolute positions (``ape="learned"``) plus a relative
  position bias table per attention block (``rpe=True``); the main tokens are mean-pooled,
  then ``fc_norm`` (``out="fc_norm"``).
* MAE pretraining (``mae_hivit_base_dec512d6b``): fixed sin-cos positions (``ape="sincos"``),
  no relative bias, and with ``hifeat`` the latent is one LayerNorm over the concatenated
  stage-1 unit (16 x C/4), stage-2 unit (4 x C/2) and main token (C): 7C wide
  (``out="hifeat"``); ``out="norm"`` normalises the main token only (``hifeat=False``).

qpt's earlier variant with 1 x depth stages and one shared bias is :mod:`.qpt_hivit`; both are
:class:`HierarchicalEncoder` with their own settings.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from timm.layers import trunc_normal_
from timm.layers.pos_embed_rel import RelPosBias
from torch import Tensor, nn

from .base import (
    Encoder,
    PosEmbed,
    attention_dtype,
    init_weights,
    register_pos_embed,
    xavier_flat_,
)
from .blocks import MlpBlock, PatchMerge, RelPosBlock, drop_path_rates, relative_bias
from .masking import gather_tokens
from .registry import register_sizes

OutNorm = Literal["fc_norm", "norm", "hifeat"]
RelPos = Literal["block", "shared", "none"]


def _check_sizes(img_size: int, embed_dim: int, num_heads: int) -> None:
    if img_size % 16:
        raise ValueError(f"HiViT img_size must be a multiple of 16, got {img_size}")
    if embed_dim % 4 or embed_dim % num_heads:
        raise ValueError(f"HiViT embed_dim {embed_dim} must divide by 4 and by num_heads")


class HierarchicalEncoder(Encoder):
    """The HiViT layout with what its variants set: :class:`HiViT` (the authors') and
    :class:`~.qpt_hivit.QptHiViT` (qpt's) bind the keywords after ``drop_path_rate``.

    Args:
        img_size: square input size (multiple of 16).
        embed_dim: C, width of the attention stage; the MLP stages use C/4 and C/2.
        depths: (d1, d2, d3): the MLP stages get ``mlp_blocks`` x d1 and x d2 blocks, the
            attention stage d3.
        num_heads: attention heads of the main stage.
        stem_mlp_ratio: MLP ratio of the early stages; mlp_ratio: of the main stage.
        drop_path_rate: stochastic depth, rising linearly over all blocks.
        mlp_blocks: MLP blocks per unit of d1 and d2 (the authors' 2, qpt's 1).
        norm_eps: LayerNorm epsilon outside the attention blocks; block_eps: inside them.
        ape: absolute positions (see :data:`~.base.PosEmbed`).
        rpe: a relative position bias table in every attention block (``"block"``), one
            table all blocks share (``"shared"``) or none.
        out: ``"fc_norm"`` (supervised), ``"norm"`` or ``"hifeat"`` (MAE; see the module
            docstring).

    Shape:
        - input: (B, 3, img_size, img_size), RGB in [0, 1]
        - ``forward_tokens``: (B, N, num_features); ``num_features`` is 7C for ``"hifeat"``,
          else C. With ``"fc_norm"`` the tokens are not normalised (as the authors').
        - ``forward_features``: (B, num_features): mean of the tokens (then ``fc_norm``)
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
        *,
        mlp_blocks: int,
        norm_eps: float,
        block_eps: float,
        ape: PosEmbed,
        rpe: RelPos,
        out: OutNorm,
    ) -> None:
        super().__init__()
        _check_sizes(img_size, embed_dim, num_heads)
        self.img_size, self.patch_size, self.out = img_size, 16, out
        self.grid_size = (img_size // 16, img_size // 16)
        dims = [embed_dim // 4, embed_dim // 2, embed_dim]
        # per mask unit, flattened: 4x4 sub-tokens, 2x2 sub-tokens, then the latent
        latent = 7 * embed_dim if out == "hifeat" else embed_dim
        self.stage_dims = [16 * dims[0], 4 * dims[1], latent]
        self.num_features = latent

        n1, n2, d3 = mlp_blocks * depths[0], mlp_blocks * depths[1], depths[2]
        dpr = iter(drop_path_rates(drop_path_rate, n1 + n2 + d3))
        self.patch_embed = nn.Conv2d(3, dims[0], kernel_size=4, stride=4)
        self.patch_norm = nn.LayerNorm(dims[0], eps=norm_eps)
        self.stage1 = nn.Sequential(
            *[MlpBlock(dims[0], stem_mlp_ratio, next(dpr), norm_eps) for _ in range(n1)]
        )
        self.merge1 = PatchMerge(dims[0], eps=norm_eps)
        self.stage2 = nn.Sequential(
            *[MlpBlock(dims[1], stem_mlp_ratio, next(dpr), norm_eps) for _ in range(n2)]
        )
        self.merge2 = PatchMerge(dims[1], eps=norm_eps)
        self.pos_embed: Tensor | None
        register_pos_embed(self, ape, self.grid_size, embed_dim)
        self.rel_pos = RelPosBias(self.grid_size, num_heads) if rpe == "shared" else None
        self.blocks = nn.ModuleList(
            RelPosBlock(
                embed_dim,
                num_heads,
                mlp_ratio,
                self.grid_size,
                rpe == "block",
                next(dpr),
                block_eps,
            )
            for _ in range(d3)
        )
        norm = nn.LayerNorm(latent, eps=norm_eps)
        if out == "fc_norm":
            self.fc_norm = norm
        else:
            self.norm = norm
        self._init_weights(ape)

    def _init_weights(self, ape: PosEmbed) -> None:
        """The authors' initialisation: timm's defaults, then the position tables and stem."""
        self.apply(init_weights)
        if ape == "learned":
            trunc_normal_(self.pos_embed, std=0.02)
        tables = [self.rel_pos] + [blk.rel_pos for blk in self.blocks]
        for rel_pos in tables:
            if rel_pos is not None:
                trunc_normal_(rel_pos.relative_position_bias_table, std=0.02)
        xavier_flat_(self.patch_embed.weight)

    def _units(self, x: Tensor) -> Tensor:
        """Stem: (B, 3, H, W) -> (B, N, 4, 4, C/4), one 4x4 grid of sub-tokens per unit."""
        x = self.patch_embed(x)  # (B, C/4, H/4, W/4)
        b, c, h, w = x.shape
        gh, gw = h // 4, w // 4
        x = x.reshape(b, c, gh, 4, gw, 4).permute(0, 2, 4, 3, 5, 1)
        return self.patch_norm(x.reshape(b, gh * gw, 4, 4, c))

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        """Per visible unit: [stage-1 unit (B, L, 16*C/4), stage-2 unit (B, L, 4*C/2), latent].

        ``ids_keep`` (B, L) may be in any order; the tokens follow it.
        """
        x = self._units(self._check_input(x))
        if ids_keep is not None:
            x = gather_tokens(x, ids_keep)
        b, n = x.shape[:2]
        s1 = self.stage1(x)
        s2 = self.stage2(self.merge1(s1))
        t = self.merge2(s2).reshape(b, n, -1)
        if self.pos_embed is not None:
            pos = self.pos_embed.expand(b, -1, -1)
            t = t + (gather_tokens(pos, ids_keep) if ids_keep is not None else pos).to(t.dtype)
        shared = None
        if self.rel_pos is not None:
            shared = relative_bias(self.rel_pos, ids_keep, attention_dtype(t))
        for blk in self.blocks:
            t = blk(t, ids_keep, shared)
        s1, s2 = s1.reshape(b, n, -1), s2.reshape(b, n, -1)
        if self.out == "hifeat":
            t = self.norm(torch.cat([s1, s2, t], dim=-1))
        elif self.out == "norm":
            t = self.norm(t)
        return [s1, s2, t]

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, num_features) pooled features (``fc_norm``-ed)."""
        pooled = self.forward_tokens(x).mean(dim=1)
        return self.fc_norm(pooled) if self.out == "fc_norm" else pooled


class HiViT(HierarchicalEncoder):
    """Hierarchical ViT encoder in the authors' layout (see the module docstring).

    Args:
        ape: absolute positions: ``"learned"`` (a parameter), ``"sincos"`` (MAE's fixed
            table, a persistent buffer so converted weights keep theirs) or ``"none"``.
        rpe: a relative position bias table in every attention block.
        out: ``"fc_norm"`` (supervised), ``"norm"`` or ``"hifeat"`` (MAE; see above).
        norm_eps: LayerNorm epsilon.
        kwargs: the layout (``img_size``, ``embed_dim``, ``depths``: the MLP stages get
            2 x d1 and 2 x d2 blocks, ``num_heads``, ``stem_mlp_ratio``, ``mlp_ratio``,
            ``drop_path_rate``) as :class:`HierarchicalEncoder`'s.

    Shape: as :class:`HierarchicalEncoder`.

    Example:
        >>> m = HiViT(img_size=64, embed_dim=128, depths=(1, 1, 2), num_heads=4)
        >>> m.forward_features(torch.rand(2, 3, 64, 64)).shape
        torch.Size([2, 128])
    """

    def __init__(
        self,
        *,
        ape: Literal["learned", "sincos", "none"] = "learned",
        rpe: bool = True,
        out: OutNorm = "fc_norm",
        norm_eps: float = 1e-6,
        **kwargs: Any,
    ) -> None:
        if ape not in ("learned", "sincos", "none") or out not in ("fc_norm", "norm", "hifeat"):
            raise ValueError(f"HiViT: unknown ape '{ape}' or out '{out}'")
        rpe_kind = "block" if rpe else "none"
        settings = dict(mlp_blocks=2, norm_eps=norm_eps, block_eps=norm_eps, rpe=rpe_kind)
        super().__init__(**kwargs, **settings, ape=ape, out=out)


# the authors' sizes (HiViT-T/S/B); nano is a CPU-sized member of the family
SIZES = {
    "nano": dict(embed_dim=128, depths=(1, 1, 2), num_heads=4),
    "tiny": dict(embed_dim=384, depths=(1, 1, 10), num_heads=6),
    "small": dict(embed_dim=384, depths=(2, 2, 20), num_heads=6),
    "base": dict(embed_dim=512, depths=(2, 2, 20), num_heads=8),
}


register_sizes("hivit", HiViT, SIZES, "HiViT in the authors' layout")
