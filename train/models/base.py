"""What every encoder shares: input normalisation, pooling, the MAE-facing interface."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

#: absolute positions: ``"learned"`` (a parameter starting from MAE's table), ``"sincos"``
#: (MAE's fixed table, a persistent buffer so converted weights keep theirs), ``"timm_sincos"``
#: (timm's fixed table, not saved: qpt's own variants) or ``"none"``
PosEmbed = Literal["learned", "sincos", "timm_sincos", "none"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Encoder(nn.Module):
    """Base of the HiViT and ViT encoders.

    Subclasses set ``img_size``, ``patch_size`` (the 16x16 mask unit), ``grid_size``,
    ``num_features`` and ``stage_dims`` and implement :meth:`forward_stages`.

    Inputs are RGB floats in ``[0, 1]``; ImageNet normalisation happens inside
    (non-persistent buffers, so exported weights do not carry them).
    """

    img_size: int
    patch_size: int
    grid_size: tuple[int, int]
    num_features: int
    stage_dims: list[int]
    num_prefix_tokens: int = 0  # class token(s) in front of the latent (MAE's ViT: 1)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), False)

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    def _check_input(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, H, W), got {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != (self.img_size, self.img_size):
            raise ValueError(
                f"{type(self).__name__} was built for {self.img_size}x{self.img_size} input, "
                f"got {x.shape[-2]}x{x.shape[-1]}"
            )
        return (x - self.pixel_mean.to(x.dtype)) / self.pixel_std.to(x.dtype)

    def forward_stages(self, x: Tensor, ids_keep: Tensor | None = None) -> list[Tensor]:
        """Features of every stage, per visible mask unit.

        Args:
            x: (B, 3, H, W) images in [0, 1].
            ids_keep: (B, L) visible mask units (from :func:`random_masking`); None = all.

        Returns:
            one (B, L, stage_dims[i]) tensor per stage; the last is the final token
            sequence (B, L, num_features), normalised (a supervised HiViT normalises after
            pooling instead: its ``fc_norm``).
        """
        raise NotImplementedError

    def forward_latent(self, x: Tensor, ids_keep: Tensor | None = None) -> Tensor:
        """What an MAE decoder reads: (B, num_prefix_tokens + L, num_features)."""
        return self.forward_stages(x, ids_keep)[-1]

    def forward_tokens(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, N, D) final tokens, raster order."""
        return self.forward_stages(x)[-1]

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D) mean-pooled final tokens (then ``fc_norm``)."""
        return self.forward_tokens(x).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)


def attention_dtype(x: Tensor) -> torch.dtype:
    """The dtype attention runs in for input ``x``: the autocast dtype inside autocast."""
    kind = x.device.type
    if torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return x.dtype


def sincos_pos_embed(grid: tuple[int, int], dim: int) -> Tensor:
    """Fixed 2D sin-cos position embedding (MAE), (1, gh*gw, dim), raster order."""
    from timm.layers.pos_embed_sincos import build_sincos2d_pos_embed

    return build_sincos2d_pos_embed(list(grid), dim=dim).unsqueeze(0)


def mae_sincos_pos_embed(grid: tuple[int, int], dim: int, cls_token: bool = False) -> Tensor:
    """MAE's fixed 2D sin-cos position table, (1, [1 +] gh*gw, dim), raster order.

    The first half of the channels encodes the column (x), the second the row (y); each half
    is ``[sin(pos * w), cos(pos * w)]`` with ``w = 10000 ** -(i / (dim / 4))``. A class
    token, when present, gets a zero row in front. Computed in float64 like MAE's numpy code.
    """
    if dim % 4:
        raise ValueError(f"sin-cos position embedding needs dim % 4 == 0, got {dim}")
    gh, gw = grid
    rows, cols = torch.meshgrid(
        torch.arange(gh, dtype=torch.float64), torch.arange(gw, dtype=torch.float64), indexing="ij"
    )
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4))

    def half(pos: Tensor) -> Tensor:
        angles = pos.reshape(-1, 1) * omega
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    table = torch.cat([half(cols), half(rows)], dim=1)
    if cls_token:
        table = torch.cat([table.new_zeros(1, dim), table])
    return table.float().unsqueeze(0)


def register_pos_embed(
    module: nn.Module,
    kind: PosEmbed,
    grid: tuple[int, int],
    dim: int,
    cls_token: bool = False,
    name: str = "pos_embed",
) -> None:
    """Give ``module`` its positions ``name`` (1, [1 +] gh*gw, dim) of ``kind`` (see
    :data:`PosEmbed`); None for ``"none"``. ``cls_token`` adds MAE's zero row in front."""
    if kind == "timm_sincos":
        if cls_token:
            raise ValueError("timm_sincos positions have no class token row")
        module.register_buffer(name, sincos_pos_embed(grid, dim), False)
    elif kind == "sincos":
        module.register_buffer(name, mae_sincos_pos_embed(grid, dim, cls_token))
    elif kind == "learned":
        setattr(module, name, nn.Parameter(mae_sincos_pos_embed(grid, dim, cls_token)))
    else:
        setattr(module, name, None)


def xavier_flat_(weight: Tensor) -> None:
    """MAE's init of a patch embedding: xavier-uniform on the weight seen as (out, in*k*k)."""
    w = weight.data
    nn.init.xavier_uniform_(w.view(w.shape[0], -1))


def init_weights(module: nn.Module) -> None:
    """MAE initialisation: xavier-uniform linears, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
