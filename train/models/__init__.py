"""Backbones and pretraining models, registered by name (timm style).

* ``hivit_*`` / ``mae_hivit_*``: HiViT and its MAE as the authors define them.
* ``vit_*`` / ``mae_vit_*``: MAE's ViT (class token) and MAE itself.
* ``qpt_hivit_*`` / ``qpt_vit_*`` and ``mae_qpt_*``: qpt's own variants with the MSFF decoder
  input (the default CPU pipeline's ``mae_qpt_hivit_nano``).

>>> import torch
>>> from train.models import ScoreHead, create_backbone, create_model
>>> with torch.device("meta"):  # built without memory: names and widths only
...     create_backbone("hivit_tiny").num_features  # x (B, 3, 224, 224) in [0, 1] -> (B, 384)
384
>>> mae = create_model("mae_qpt_hivit_nano", img_size=64)
>>> loss = mae(torch.rand(2, 3, 64, 64))[0]  # mean squared error on the masked patches
>>> loss.shape, bool(loss > 0)
(torch.Size([]), True)
>>> small = create_backbone("hivit_nano", img_size=64)
>>> ScoreHead(small.num_features)(small.forward_tokens(torch.rand(2, 3, 64, 64))).shape
torch.Size([2])
"""

from . import hivit, mae, mae_latent, qpt_hivit, qpt_vit, vit  # noqa: F401  (registers)
from .base import Encoder
from .head import ScoreHead
from .hivit import HiViT
from .mae import MaskedAutoencoder, masked_mse
from .mae_latent import LatentMAE
from .masking import gather_tokens, patchify, random_masking, unpatchify
from .msff import MSFF
from .qpt_hivit import QptHiViT
from .qpt_vit import QptViT
from .registry import create_backbone, create_model, list_models, register_model
from .vit import VisionTransformer

__all__ = [
    "MSFF",
    "Encoder",
    "HiViT",
    "LatentMAE",
    "MaskedAutoencoder",
    "QptHiViT",
    "QptViT",
    "ScoreHead",
    "VisionTransformer",
    "create_backbone",
    "create_model",
    "gather_tokens",
    "list_models",
    "masked_mse",
    "patchify",
    "random_masking",
    "register_model",
    "unpatchify",
]
