"""MAE in its authors' layout: the decoder reads one latent sequence from the encoder.

This is MAE's ``MaskedAutoencoderViT`` (class token included) and HiViT's
``HiViTMaskedAutoencoder`` (with ``hifeat`` the latent already holds the stage-1 unit, the
stage-2 unit and the main token under one LayerNorm): ``decoder_embed`` -> mask tokens ->
unshuffle -> fixed sin-cos positions -> transformer blocks -> ``decoder_norm`` ->
``decoder_pred``. The loss target is the ImageNet-normalised image, as the authors' data
pipeline hands it over, normalised per patch.

Registered models:

* ``mae_hivit_*``: the authors' HiViT MAE pretraining model (sin-cos positions, no relative
  bias). ``msff_fusion="hifeat"`` (the default) is the authors' multi-scale fusion, exactly:
  it is what their released HiViT MAE weights were trained with, so those weights load and
  ``--init`` continues their pretraining. ``msff_fusion="sum"`` / ``"concat"`` swap in
  qpt's MSFF decoder input (:class:`.mae.MaskedAutoencoder`: each stage normalised and
  projected separately, then summed or concatenated); ``msff=False`` decodes the main token.
* ``mae_vit_*``: MAE's own model (class token, no multi-scale fusion).
"""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer import Block
from torch import Tensor, nn

from . import hivit, vit
from .base import Encoder, init_weights, mae_sincos_pos_embed
from .mae import MaskedAutoencoder, masked_mse
from .masking import patchify, random_masking
from .registry import create_model, register_model


class LatentMAE(nn.Module):
    """Masked autoencoder decoding the encoder's latent (MAE / HiViT-MAE layout).

    Args:
        encoder: an :class:`Encoder` with ``forward_latent`` (prefix tokens first).
        decoder_dim, decoder_depth, decoder_heads, mlp_ratio: the decoder transformer.
        mask_ratio: default fraction of masked units.
        norm_pix_loss: normalise each target patch (mean, variance + 1e-6) first.
        norm_eps: LayerNorm epsilon of the decoder.

    Shape:
        - x: (B, 3, H, W) input, RGB in [0, 1]; target: (B, 3, H, W) to reconstruct, default x
        - output: loss (scalar), pred (B, N, 16*16*3), mask (B, N) with 1 = masked
    """

    def __init__(
        self,
        encoder: Encoder,
        decoder_dim: int = 512,
        decoder_depth: int = 8,
        decoder_heads: int = 16,
        mlp_ratio: float = 4.0,
        mask_ratio: float = 0.75,
        norm_pix_loss: bool = True,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if decoder_dim % decoder_heads:
            raise ValueError(f"decoder_dim {decoder_dim} must divide by decoder_heads")
        self.encoder = encoder
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.prefix = encoder.num_prefix_tokens
        p = encoder.patch_size
        self.decoder_embed = nn.Linear(encoder.num_features, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        pos = mae_sincos_pos_embed(encoder.grid_size, decoder_dim, cls_token=self.prefix > 0)
        self.register_buffer("decoder_pos_embed", pos)
        norm = partial(nn.LayerNorm, eps=norm_eps)
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads, mlp_ratio, qkv_bias=True, norm_layer=norm)
            for _ in range(decoder_depth)
        )
        self.decoder_norm = norm(decoder_dim)
        self.decoder_pred = nn.Linear(decoder_dim, p * p * 3)
        for m in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward_decoder(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        """(B, prefix + L, De) latent, (B, N) unshuffle ids -> (B, N, p*p*3) predictions."""
        x = self.decoder_embed(latent)
        head, x = x[:, : self.prefix], x[:, self.prefix :]
        b, n = ids_restore.shape
        x = torch.cat([x, self.mask_token.to(x.dtype).expand(b, n - x.shape[1], -1)], dim=1)
        x = torch.gather(x, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
        x = torch.cat([head, x], dim=1) + self.decoder_pos_embed.to(x.dtype)
        for blk in self.decoder_blocks:
            x = blk(x)
        return self.decoder_pred(self.decoder_norm(x))[:, self.prefix :]

    @property
    def target_norm(self) -> tuple[Tensor, Tensor]:
        """(mean, std) of the image the decoder predicts: ``(target - mean) / std``."""
        return self.encoder.pixel_mean, self.encoder.pixel_std

    def loss(self, target: Tensor, pred: Tensor, mask: Tensor) -> Tensor:
        """Loss on the ImageNet-normalised ``target`` (B, 3, H, W) in [0, 1]."""
        mean, std = (t.to(target.dtype) for t in self.target_norm)
        normed = (target - mean) / std
        return masked_mse(pred, patchify(normed, self.encoder.patch_size), mask, self.norm_pix_loss)

    def forward_masked(
        self, x: Tensor, ids_keep: Tensor, ids_restore: Tensor, mask: Tensor, target=None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One pass with a given masking (ids_keep (B, L) in the order of ``ids_restore``).

        Returns:
            loss, pred (B, N, p*p*3), latent (B, prefix + L, encoder.num_features).
        """
        latent = self.encoder.forward_latent(x, ids_keep)
        pred = self.forward_decoder(latent, ids_restore)
        return self.loss(x if target is None else target, pred, mask), pred, latent

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


# decoders: nano/tiny/small as qpt's; base/large as the authors' (HiViT dec512d6b, MAE d8)
HIVIT_DECODERS = {
    "nano": dict(decoder_dim=128, decoder_depth=1, decoder_heads=4),
    "tiny": dict(decoder_dim=256, decoder_depth=4, decoder_heads=8),
    "small": dict(decoder_dim=384, decoder_depth=4, decoder_heads=12),
    "base": dict(decoder_dim=512, decoder_depth=6, decoder_heads=16),
}
VIT_DECODERS = {
    "tiny": dict(decoder_dim=256, decoder_depth=4, decoder_heads=8),
    "small": dict(decoder_dim=384, decoder_depth=4, decoder_heads=12),
    "base": dict(decoder_dim=512, decoder_depth=8, decoder_heads=16),
    "large": dict(decoder_dim=512, decoder_depth=8, decoder_heads=16),
}
_DECODER_KEYS = ("decoder_dim", "decoder_depth", "decoder_heads", "mask_ratio", "norm_pix_loss")


def _split(kwargs: dict, defaults: dict) -> dict:
    return {**defaults, **{k: kwargs.pop(k) for k in _DECODER_KEYS if k in kwargs}}


def mae_hivit(size: str, msff: bool = True, msff_fusion: str = "hifeat", **kwargs) -> nn.Module:
    """The authors' HiViT MAE of ``size`` (see the module docstring for the fusions)."""
    if msff_fusion not in ("hifeat", "sum", "concat"):
        raise ValueError(f"msff_fusion must be 'hifeat', 'sum' or 'concat', got '{msff_fusion}'")
    dec = _split(kwargs, HIVIT_DECODERS[size])
    qpt_msff = msff and msff_fusion != "hifeat"
    out = "hifeat" if msff and not qpt_msff else "norm"
    enc_kw = {"ape": "sincos", "rpe": False, "out": out, **kwargs}
    encoder = create_model(f"hivit_{size}", **enc_kw)
    if qpt_msff:
        return MaskedAutoencoder(encoder, msff=True, msff_fusion=msff_fusion, **dec)
    return LatentMAE(encoder, **dec)


def mae_vit(size: str, msff: bool = False, msff_fusion: str | None = None, **kwargs) -> LatentMAE:
    """MAE's ``MaskedAutoencoderViT`` of ``size`` (no multi-scale fusion)."""
    if msff or msff_fusion is not None:
        raise ValueError(
            "MAE's ViT has no multi-scale fusion: set msff = false (or use mae_qpt_vit_*)"
        )
    dec = _split(kwargs, VIT_DECODERS[size])
    return LatentMAE(create_model(f"vit_{size}", **kwargs), **dec)


def _register(family, size: str) -> None:
    def factory(**kwargs) -> nn.Module:
        return family(size, **kwargs)

    factory.__name__ = f"{family.__name__}_{size}"
    factory.__doc__ = f"{family.__doc__.split(' of ')[0]}, {size} (see train.models.mae_latent)."
    register_model(factory)


for _size in hivit.SIZES:
    _register(mae_hivit, _size)
for _size in vit.SIZES:
    _register(mae_vit, _size)
