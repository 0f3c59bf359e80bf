"""``qpt pretrain --init DIR``: start MIM pretraining from converted or exported weights.

The common recipe: convert the authors' MAE weights (``qpt convert ... --from hivit-mae``)
and continue pretraining on QPT V2 data and degradations. ``DIR`` is an export folder:

* with ``mae.safetensors`` (``qpt convert`` of a source with a decoder): the whole MAE,
  encoder and decoder, is loaded;
* with ``encoder.safetensors`` only (``qpt pretrain export``, MAE's released encoders): the
  encoder is loaded and the decoder keeps its fresh initialisation.

The run's model must be the recorded architecture (same modules, widths and heads); else
the error names the recorded model and the parameters to set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import (
    CONFIG_FILE,
    ENCODER_FILE,
    MAE_FILE,
    _read_json,
    _read_safetensors,
    load_weights,
    unwrap,
    upgrade_config,
)
from .models import create_model

# PretrainParams fields that set the MAE's architecture (the --set hint on a mismatch)
_PARAM_KEYS = ("img_size", "msff", "msff_fusion", "decoder_dim", "decoder_depth", "decoder_heads")


def _signature(model: nn.Module) -> tuple[str, list[tuple[str, int]]]:
    """What must agree for weights to mean the same thing: modules (widths, eps) and heads."""
    heads = [(n, m.num_heads) for n, m in model.named_modules() if hasattr(m, "num_heads")]
    return repr(model), heads


def _same_architecture(model: nn.Module, name: str, kwargs: dict[str, Any]) -> bool:
    """Whether ``create_model(name, **kwargs)`` builds ``model``'s architecture."""
    mine = getattr(model, "model_kwargs", {})
    if "drop_path_rate" in mine:  # regularisation, not architecture
        kwargs = {**kwargs, "drop_path_rate": mine["drop_path_rate"]}
    with torch.device("meta"):
        recorded = create_model(name, **kwargs)
    return _signature(recorded) == _signature(model)


def _hint(name: str, kwargs: dict[str, Any]) -> str:
    sets = [f"model='\"{name}\"'"]
    sets += [f"{k}={str(kwargs[k]).lower()}" for k in _PARAM_KEYS if k in kwargs]
    return " ".join(f"--set {s}" for s in sets)


def init_from(model: nn.Module, folder: str | Path) -> str:
    """Load the weights of export ``folder`` into a freshly built pretraining ``model``.

    Returns:
        ``"mae"`` (encoder and decoder loaded) or ``"encoder"`` (encoder only).

    Raises:
        FileNotFoundError: no export there. ValueError: another architecture, or keys that
            do not match (named).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: --init folder not found")
    config = upgrade_config(_read_json(folder / CONFIG_FILE), folder / CONFIG_FILE)
    plain = unwrap(model)
    mae = config.get("mae")
    if isinstance(mae, dict) and (folder / MAE_FILE).is_file():
        name, kwargs = mae.get("model"), mae.get("model_kwargs", {})
        if not _same_architecture(plain, name, kwargs):
            raise ValueError(
                f"{folder}: holds {name} {kwargs}, this run builds "
                f"{getattr(plain, 'model_name', '?')} {getattr(plain, 'model_kwargs', {})}; "
                f"match it with {_hint(name, kwargs)}"
            )
        load_weights(plain, _read_safetensors(folder / MAE_FILE), folder / MAE_FILE)
        return "mae"
    name, kwargs = config.get("model"), config.get("model_kwargs", {})
    encoder = getattr(plain, "encoder", None)
    if encoder is None or not _same_architecture(encoder, name, kwargs):
        raise ValueError(
            f"{folder}: holds the encoder {name} {kwargs}, this run's encoder is "
            f"{getattr(encoder, 'model_name', '?')} {getattr(encoder, 'model_kwargs', {})}; "
            f"pick the mae_* model built on {name} (and its img_size)"
        )
    load_weights(encoder, _read_safetensors(folder / ENCODER_FILE), folder / ENCODER_FILE)
    return "encoder"
