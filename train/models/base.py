"""What every encoder shares: input normalisation, pooling, the MAE-facing interface."""

from __future__ import annotations

import torch
from torch import Tensor, nn

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
            one (B, L, stage_dims[i]) tensor per stage; the last is the final, normalised
            token sequence (B, L, num_features).
        """
        raise NotImplementedError

    def forward_tokens(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, N, D) final normalised tokens, raster order."""
        return self.forward_stages(x)[-1]

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, D) mean-pooled final tokens."""
        return self.forward_tokens(x).mean(dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)


def sincos_pos_embed(grid: tuple[int, int], dim: int) -> Tensor:
    """Fixed 2D sin-cos position embedding (MAE), (1, gh*gw, dim), raster order."""
    from timm.layers.pos_embed_sincos import build_sincos2d_pos_embed

    return build_sincos2d_pos_embed(list(grid), dim=dim).unsqueeze(0)


def init_weights(module: nn.Module) -> None:
    """MAE initialisation: xavier-uniform linears, zero biases, unit LayerNorms."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
