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
from typing import Any

from torch import Tensor, nn

from . import hivit, vit
from .base import Encoder
from .mae import DECODERS, MAEBase, MaskedAutoencoder, decoder_kwargs
from .registry import create_model, register_factory


class LatentMAE(MAEBase):
    """Masked autoencoder decoding the encoder's latent (MAE / HiViT-MAE layout).

    Args:
        encoder: an :class:`Encoder` with ``forward_latent`` (prefix tokens first).
        mlp_ratio: of the decoder blocks.
        norm_eps: LayerNorm epsilon of the decoder.
        decoder: ``decoder_dim``, ``decoder_depth``, ``decoder_heads``, ``mask_ratio``,
            ``norm_pix_loss`` (see :class:`.mae.MAEBase`).

    Shape:
        - x: (B, 3, H, W) input, RGB in [0, 1]; target: (B, 3, H, W) to reconstruct, default x
        - output: loss (scalar), pred (B, N, 16*16*3), mask (B, N) with 1 = masked
    """

    def __init__(
        self, encoder: Encoder, mlp_ratio: float = 4.0, norm_eps: float = 1e-6, **decoder: Any
    ) -> None:
        super().__init__(encoder, prefix=encoder.num_prefix_tokens, **decoder)
        self.decoder_embed = nn.Linear(encoder.num_features, self.decoder_dim)
        self._build_decoder(self.decoder_embed, mlp_ratio, norm_eps, norm_eps, "sincos")

    def encode(self, x: Tensor, ids_keep: Tensor) -> Tensor:
        """The encoder's latent: (B, prefix + L, encoder.num_features)."""
        return self.encoder.forward_latent(x, ids_keep)

    def forward_decoder(self, features: Tensor, ids_restore: Tensor) -> Tensor:
        """(B, prefix + L, De) latent, (B, N) unshuffle ids -> (B, N, p*p*3) predictions."""
        return self._decode(self.decoder_embed(features), ids_restore)

    @property
    def target_norm(self) -> tuple[Tensor, Tensor]:
        """(mean, std) of the image the decoder predicts: ``(target - mean) / std``."""
        return self.encoder.pixel_mean, self.encoder.pixel_std


# decoders: nano/tiny/small as qpt's; base/large as the authors' (HiViT dec512d6b, MAE d8)
HIVIT_DECODERS = {**DECODERS, "base": {**DECODERS["base"], "decoder_depth": 6}}
VIT_DECODERS = {s: DECODERS[s] for s in ("tiny", "small", "base")} | {"large": DECODERS["base"]}


def mae_hivit(size: str, msff: bool = True, msff_fusion: str = "hifeat", **kwargs) -> nn.Module:
    """The authors' HiViT MAE of ``size`` (see the module docstring for the fusions)."""
    if msff_fusion not in ("hifeat", "sum", "concat"):
        raise ValueError(f"msff_fusion must be 'hifeat', 'sum' or 'concat', got '{msff_fusion}'")
    dec = decoder_kwargs(kwargs, HIVIT_DECODERS[size])
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
    dec = decoder_kwargs(kwargs, VIT_DECODERS[size])
    return LatentMAE(create_model(f"vit_{size}", **kwargs), **dec)


for _family, _sizes in ((mae_hivit, hivit.SIZES), (mae_vit, vit.SIZES)):
    for _size in _sizes:
        _doc = f"{_family.__doc__.split(' of ')[0]}, {_size} (see train.models.mae_latent)."
        register_factory(f"{_family.__name__}_{_size}", _doc, partial(_family, _size))
