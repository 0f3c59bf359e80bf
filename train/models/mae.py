"""qpt's masked autoencoder: any registered encoder, decoder input fused by MSFF (sum/concat).

Registered as ``mae_qpt_hivit_*`` / ``mae_qpt_vit_*``; it is also the ``msff_fusion="sum"``
or ``"concat"`` option of the authors'-layout ``mae_hivit_*`` models (:mod:`.mae_latent`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from .base import Encoder, PosEmbed, init_weights, register_pos_embed
from .masking import patchify, random_masking
from .msff import MSFF
from .registry import create_model, register_factory


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


class MAEBase(nn.Module):
    """What qpt's MAE and the authors'-layout MAE share: random masking, the decoder (mask
    tokens, unshuffle, fixed positions, transformer blocks, ``decoder_norm``,
    ``decoder_pred``) and the masked loss.

    A subclass builds its decoder input after ``__init__``, then calls :meth:`_build_decoder`,
    and implements :meth:`encode` and :meth:`forward_decoder`.

    Args:
        encoder: a :class:`Encoder`.
        decoder_dim, decoder_depth, decoder_heads: the decoder transformer.
        mask_ratio: default fraction of masked units.
        norm_pix_loss: normalise each target patch (mean, variance + 1e-6) first.
        prefix: prefix tokens (a class token) in front of the decoder input.
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        mask_ratio: float = 0.75,
        norm_pix_loss: bool = True,
        prefix: int = 0,
    ) -> None:
        super().__init__()
        if decoder_dim % decoder_heads:
            raise ValueError(f"decoder_dim {decoder_dim} must divide by decoder_heads")
        self.encoder = encoder
        self.decoder_dim, self.decoder_heads = decoder_dim, decoder_heads
        self.decoder_depth = decoder_depth
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.prefix = prefix

    def _build_decoder(
        self,
        embed: nn.Module,
        mlp_ratio: float,
        norm_eps: float,
        block_eps: float,
        pos: PosEmbed,
    ) -> None:
        """The decoder after its input ``embed``, initialised (``embed`` too) as MAE's.

        ``norm_eps``: LayerNorm epsilon of ``decoder_norm``; ``block_eps``: of the blocks.
        """
        p, decoder_dim = self.encoder.patch_size, self.decoder_dim
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        grid = self.encoder.grid_size
        register_pos_embed(self, pos, grid, decoder_dim, self.prefix > 0, "decoder_pos_embed")
        block_norm = partial(nn.LayerNorm, eps=block_eps)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, self.decoder_heads, mlp_ratio, qkv_bias=True, norm_layer=block_norm)
            for _ in range(self.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=norm_eps)
        self.decoder_pred = nn.Linear(decoder_dim, p * p * 3)
        for m in (embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def encode(self, x: Tensor, ids_keep: Tensor) -> Any:
        """What the decoder reads of the visible units ``ids_keep`` (B, L) of ``x``."""
        raise NotImplementedError

    def forward_decoder(self, features: Any, ids_restore: Tensor) -> Tensor:
        """:meth:`encode`'s features, (B, N) unshuffle ids -> (B, N, p*p*3) predictions."""
        raise NotImplementedError

    def _decode(self, x: Tensor, ids_restore: Tensor) -> Tensor:
        """(B, prefix + L, Dd) decoder input + mask tokens -> (B, N, p*p*3) predictions."""
        head, x = x[:, : self.prefix], x[:, self.prefix :]
        b, n = ids_restore.shape
        x = torch.cat([x, self.mask_token.to(x.dtype).expand(b, n - x.shape[1], -1)], dim=1)
        x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        x = torch.cat([head, x], dim=1) + self.decoder_pos_embed.to(x.dtype)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, self.prefix :]

    @property
    def target_norm(self) -> tuple[Tensor, Tensor] | None:
        """(mean, std) when the decoder predicts ``(target - mean) / std``; None = target."""
        return None

    def loss(self, target: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """:func:`masked_mse` against ``target`` (B, 3, H, W) in [0, 1] (see ``target_norm``)."""
        if self.target_norm is not None:
            mean, std = (t.to(target.dtype) for t in self.target_norm)
            target = (target - mean) / std
        return masked_mse(pred, patchify(target, self.encoder.patch_size), mask, self.norm_pix_loss)

    def forward_masked(
        self, x: Tensor, ids_keep: Tensor, ids_restore: Tensor, mask: Tensor, target=None
    ) -> tuple[Tensor, Tensor, Any]:
        """One pass with a given masking (ids_keep (B, L) in the order of ``ids_restore``).

        Returns:
            loss, pred (B, N, p*p*3), the encoder's features (see :meth:`encode`).
        """
        features = self.encode(x, ids_keep)
        pred = self.forward_decoder(features, ids_restore)
        return self.loss(x if target is None else target, pred, mask), pred, features

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
        loss, pred, _ = self.forward_masked(x, ids_keep, ids_restore, mask, target)
        return loss, pred, mask


class MaskedAutoencoder(MAEBase):
    """MAE: encode the visible units, decode all of them from MSFF-fused features.

    Args:
        encoder: a :class:`Encoder` (HiViT or ViT).
        msff: fuse all encoder stages into the decoder input (False = plain MAE).
        msff_fusion: ``"sum"`` or ``"concat"`` (see :class:`MSFF`).
        decoder: ``decoder_dim``, ``decoder_depth``, ``decoder_heads``, ``mask_ratio``,
            ``norm_pix_loss`` (see :class:`MAEBase`).

    Shape:
        - x: (B, 3, H, W) input (the degraded image), RGB in [0, 1]
        - target: (B, 3, H, W) image to reconstruct; default ``x``
        - output: loss (scalar), pred (B, N, 16*16*3), mask (B, N) with 1 = masked
    """

    def __init__(
        self, encoder: Encoder, msff: bool = True, msff_fusion: str = "sum", **decoder: Any
    ) -> None:
        super().__init__(encoder, **decoder)
        self.msff = MSFF(encoder.stage_dims, self.decoder_dim, enabled=msff, fusion=msff_fusion)
        self._build_decoder(self.msff, 4.0, 1e-5, 1e-6, "timm_sincos")

    def encode(self, x: Tensor, ids_keep: Tensor) -> list[Tensor]:
        """Every stage of the encoder: [(B, L, stage_dims[i])]."""
        return self.encoder.forward_stages(x, ids_keep)

    def forward_decoder(self, features: list[Tensor], ids_restore: Tensor) -> Tensor:
        """Fused visible features + mask tokens -> (B, N, p*p*3) predicted patches."""
        return self._decode(self.msff(features), ids_restore)


# decoder sizes of qpt's MAE (and of the authors'-layout MAE up to small, see .mae_latent)
DECODERS = {
    "nano": dict(decoder_dim=128, decoder_depth=1, decoder_heads=4),
    "tiny": dict(decoder_dim=256, decoder_depth=4, decoder_heads=8),
    "small": dict(decoder_dim=384, decoder_depth=4, decoder_heads=12),
    "base": dict(decoder_dim=512, decoder_depth=8, decoder_heads=16),
}
DECODER_KEYS = ("decoder_dim", "decoder_depth", "decoder_heads", "mask_ratio", "norm_pix_loss")


def decoder_kwargs(kwargs: dict, defaults: dict, keys: tuple[str, ...] = DECODER_KEYS) -> dict:
    """``defaults`` updated with the ``keys`` popped from ``kwargs`` (the rest: the encoder's)."""
    return {**defaults, **{k: kwargs.pop(k) for k in keys if k in kwargs}}


def _mae(encoder_name: str, size: str, **kwargs) -> MaskedAutoencoder:
    mae_kwargs = decoder_kwargs(kwargs, DECODERS[size], DECODER_KEYS + ("msff", "msff_fusion"))
    encoder = create_model(encoder_name, **kwargs)
    return MaskedAutoencoder(encoder, **mae_kwargs)


_ENCODERS = [f"qpt_hivit_{s}" for s in ("nano", "tiny", "small", "base")]
_ENCODERS += [f"qpt_vit_{s}" for s in ("tiny", "small", "base")]
for _enc in _ENCODERS:
    _size = _enc.rsplit("_", 1)[1]
    _doc = f"MAE pretraining model on {_enc} (decoder {DECODERS[_size]})."
    register_factory(f"mae_{_enc}", _doc, partial(_mae, _enc, _size))
