"""Backbones and pretraining models, registered by name (timm style).

>>> from train.models import create_model, create_backbone, list_models, ScoreHead
>>> mae = create_model("mae_hivit_tiny", msff=True, decoder_dim=256, decoder_depth=4)
>>> enc = create_backbone("hivit_tiny")   # x (B, 3, 224, 224) in [0, 1] -> (B, 384)
"""

from . import hivit, mae, vit  # noqa: F401  (registers the models)
from .base import Encoder
from .head import ScoreHead
from .hivit import HiViT
from .mae import MaskedAutoencoder, masked_mse
from .masking import gather_tokens, patchify, random_masking, unpatchify
from .msff import MSFF
from .registry import create_backbone, create_model, list_models, register_model
from .vit import VisionTransformer

__all__ = [
    "MSFF",
    "Encoder",
    "HiViT",
    "MaskedAutoencoder",
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
