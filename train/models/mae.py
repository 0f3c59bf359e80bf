"""qpt's masked autoencoder: any registered encoder, decoder input fused by MSFF (sum/concat).

Registered as ``mae_qpt_hivit_*`` / ``mae_qpt_vit_*``; it is also the ``msff_fusion="sum"``
or ``"concat"`` option of the authors'-layout ``mae_hivit_*`` models (:mod:`.mae_latent`).
"""

from __future__ import annotations

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, init_weights, sincos_pos_embed
from .masking import patchify, random_masking
from .msff import MSFF
from .registry import create_model, register_model


def masked_mse(pred: Tensor, target: Tensor, mask: Tensor, norm_pix: bool = True) -> Tensor:
    """MAE loss: mean squared error on masked patches only.

    Args:
        pred: (B, N, P) predicted patches.
        target: (B, N, P) target patches (see :func:`patchify`).
        mask: (B, N), 1 = masked.
        norm_pix: normalise each target patch to zero mean, unit variance first.

    Returns:
        scalar loss.
    """
    if norm_pix:
        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6) ** 0.5
    per_patch = ((pred.float() - target.float()) ** 2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1)


class MaskedAutoencoder(nn.Module):
    """MAE: encode the visible units, decode all of them from MSFF-fused features.

    Args:
        encoder: a :class:`Encoder` (HiViT or ViT).
        decoder_dim, decoder_depth, decoder_heads: the decoder transformer.
        msff: fuse all encoder stages into the decoder input (False = plain MAE).
        msff_fusion: ``"sum"`` or ``"concat"`` (see :class:`MSFF`).
        mask_ratio: default fraction of masked units.
        norm_pix_loss: per-patch normalised pixel targets.

    Shape:
        - x: (B, 3, H, W) input (the degraded image), RGB in [0, 1]
        - target: (B, 3, H, W) image to reconstruct; default ``x``
        - output: loss (scalar), pred (B, N, 16*16*3), mask (B, N) with 1 = masked
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        msff: bool = True,
        msff_fusion: str = "sum",
        mask_ratio: float = 0.75,
        norm_pix_loss: bool = True,
    ) -> None:
        super().__init__()
        if decoder_dim % decoder_heads:
            raise ValueError(f"decoder_dim {decoder_dim} must divide by decoder_heads")
        self.encoder = encoder
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        p = encoder.patch_size
        self.msff = MSFF(encoder.stage_dims, decoder_dim, enabled=msff, fusion=msff_fusion)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.register_buffer(
            "decoder_pos_embed", sincos_pos_embed(encoder.grid_size, decoder_dim), False
        )
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads, 4.0, qkv_bias=True) for _ in range(decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, p * p * 3)
        for m in (self.msff, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward_decoder(self, stages: list[Tensor], ids_restore: Tensor) -> Tensor:
        """Fused visible features + mask tokens -> (B, N, p*p*3) predicted patches."""
        x = self.msff(stages)  # (B, L, Dd)
        b, n = ids_restore.shape
        tokens = torch.cat([x, self.mask_token.to(x.dtype).expand(b, n - x.shape[1], -1)], 1)
        index = ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1])
        x = torch.gather(tokens, 1, index) + self.decoder_pos_embed.to(x.dtype)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))

    def forward(
        self,
        x: Tensor,
        target: Tensor | None = None,
        mask_ratio: float | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        ids_keep, mask, ids_restore = random_masking(
            x.shape[0], self.encoder.num_patches, ratio, x.device, generator
        )
        stages = self.encoder.forward_stages(x, ids_keep)
        pred = self.forward_decoder(stages, ids_restore)
        tgt = patchify(x if target is None else target, self.encoder.patch_size)
        return masked_mse(pred, tgt, mask, self.norm_pix_loss), pred, mask


_DECODERS = {
    "nano": dict(decoder_dim=128, decoder_depth=1, decoder_heads=4),
    "tiny": dict(decoder_dim=256, decoder_depth=4, decoder_heads=8),
    "small": dict(decoder_dim=384, decoder_depth=4, decoder_heads=12),
    "base": dict(decoder_dim=512, decoder_depth=8, decoder_heads=16),
}
_MAE_KEYS = ("decoder_dim", "decoder_depth", "decoder_heads", "msff", "msff_fusion")
_MAE_KEYS += ("mask_ratio", "norm_pix_loss")


def _mae(encoder_name: str, size: str, **kwargs) -> MaskedAutoencoder:
    mae_kwargs = {**_DECODERS[size], **{k: kwargs.pop(k) for k in _MAE_KEYS if k in kwargs}}
    encoder = create_model(encoder_name, **kwargs)
    return MaskedAutoencoder(encoder, **mae_kwargs)


def _register_mae(encoder_name: str, size: str) -> None:
    def factory(**kwargs) -> MaskedAutoencoder:
        return _mae(encoder_name, size, **kwargs)

    factory.__name__ = f"mae_{encoder_name}"
    factory.__doc__ = f"MAE pretraining model on {encoder_name} (decoder {_DECODERS[size]})."
    register_model(factory)


for _enc, _size in [
    ("qpt_hivit_nano", "nano"),
    ("qpt_hivit_tiny", "tiny"),
    ("qpt_hivit_small", "small"),
    ("qpt_hivit_base", "base"),
    ("qpt_vit_tiny", "tiny"),
    ("qpt_vit_small", "small"),
    ("qpt_vit_base", "base"),
]:
    _register_mae(_enc, _size)
