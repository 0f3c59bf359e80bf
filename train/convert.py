"""Weights under other projects' key names -> qpt models and export folders.

Sources (``--from``):

* ``hivit``: the authors' supervised ``HiViT`` (``absolute_pos_embed``, per-block
  ``attn.relative_position_bias_table``, ``fc_norm``, optional ``head``), and any HiViT-keyed
  encoder such as the QPT V2 release's (``iqa.pth``, ``iaa.pth``: HiViT with a scoring head;
  the head is dropped, the output norm is read from the keys: ``fc_norm``, or ``norm`` of
  width C or 7C).
* ``hivit-mae``: the authors' ``HiViTMaskedAutoencoder`` (the decoder is optional).
* ``mae``: MAE's ``MaskedAutoencoderViT`` (class token; the decoder is optional, as in the
  released ``mae_pretrain_vit_*.pth`` encoders).
* ``timm-vit``: a timm ``VisionTransformer`` state dict (class token, ``norm`` or
  ``fc_norm``; ``head`` dropped).

Every key is accounted for: a key the mapping does not know, or a key the qpt model needs and
the file lacks, fails with one error listing them. Architecture numbers are read from tensor
shapes; the head counts, which no shape carries when there is no relative-bias table, come
from the matching named size or from ``overrides``.

Layout of the export folder written by :func:`write_export` (``format_version`` 2)::

    encoder.safetensors   the encoder, qpt keys   (what bench / the scorer load)
    mae.safetensors       the full MAE, when the source had a decoder (what --init loads)
    config.json           {"format_version", "model", "model_kwargs", "img_size",
                           "num_features", "mae": {"model", "model_kwargs"} | null, "source"}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .checkpoint import (
    CONFIG_FILE,
    ENCODER_FILE,
    EXPORT_FORMAT_VERSION,
    MAE_FILE,
    save_safetensors,
)
from .keymap import (
    decoder_config,
    hivit_authors_key,
    hivit_config,
    hivit_key,
    hivit_paths,
    vit_config,
)
from .models import create_model, mae_latent

Source = Literal["hivit", "hivit-mae", "mae", "timm-vit"]
SOURCES: tuple[str, ...] = ("hivit", "hivit-mae", "mae", "timm-vit")
DECODER_PREFIXES = ("decoder_", "mask_token")


@dataclass
class Converted:
    """A converted model: the qpt encoder, the full MAE when there was a decoder, and notes."""

    encoder: nn.Module
    mae: nn.Module | None
    source: str
    dropped: list[str] = field(default_factory=list)


# ---- reading -----------------------------------------------------------------------------


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """Tensors of a ``.safetensors`` / ``.pth`` / ``.pt`` file, unwrapped (``model``,
    ``state_dict``, ``module.``), read without pickle code execution.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable, or not a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            state: Any = load_file(str(path))
        except (SafetensorError, OSError) as e:
            raise ValueError(f"{path}: unreadable safetensors file ({e})") from None
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001  (any unpickling failure is a bad file)
            raise ValueError(f"{path}: cannot read weights ({type(e).__name__}: {e})") from None
    return unwrap_state_dict(state, path)


def unwrap_state_dict(state: Any, where: str | Path = "weights") -> dict[str, Tensor]:
    """Strip the usual wrappers: ``{"model": sd}``, ``{"state_dict": sd}``, ``module.``."""
    while isinstance(state, dict) and not _all_tensors(state):
        inner = next((state[k] for k in ("model", "state_dict", "module") if k in state), None)
        if not isinstance(inner, dict):
            break
        state = inner
    if not isinstance(state, dict) or not state or not _all_tensors(state):
        raise ValueError(f"{where}: expected a state dict of tensors (or one under 'model')")
    while all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return dict(state)


def _all_tensors(d: dict) -> bool:
    return all(isinstance(k, str) and isinstance(v, Tensor) for k, v in d.items())


# ---- conversion --------------------------------------------------------------------------


def _check_keys(
    mapped: dict[str, Tensor],
    model: nn.Module,
    unknown: list[str],
    src: str,
    authors_key: Callable[[str], str],
) -> None:
    """One error naming every unknown, missing and mis-shaped key, in the source's names."""
    own = model.state_dict()
    missing = sorted(authors_key(k) for k in set(own) - set(mapped))
    shapes = [
        f"{authors_key(k)} {tuple(mapped[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in mapped and mapped[k].shape != own[k].shape
    ]
    unexpected = sorted(set(unknown) | {authors_key(k) for k in set(mapped) - set(own)})
    if missing or unexpected or shapes:
        parts = [f"unexpected keys {unexpected}"] if unexpected else []
        parts += [f"missing keys {missing}"] if missing else []
        parts += [f"shape mismatches {shapes}"] if shapes else []
        raise ValueError(
            f"{src} weights do not fit {getattr(model, 'model_name', '?')} "
            f"{getattr(model, 'model_kwargs', {})}: " + "; ".join(parts)
        )


def _split_head(state: dict[str, Tensor]) -> tuple[dict[str, Tensor], list[str]]:
    head = sorted(k for k in state if k.split(".")[0] == "head")
    return {k: v for k, v in state.items() if k not in head}, head


def convert_hivit(state: dict[str, Tensor], mae: bool, overrides: dict[str, Any]) -> Converted:
    """The authors' HiViT (``mae=False``) or HiViT MAE (``mae=True``) -> qpt models."""
    state, head = _split_head(state)
    index = state.pop("relative_position_index", None)
    name, kwargs = hivit_config(state, mae, overrides)
    paths = hivit_paths(kwargs["depths"])
    encoder_state, decoder_state, unknown = {}, {}, []
    for key, value in state.items():
        if key.startswith(DECODER_PREFIXES) and mae:
            decoder_state[key] = value
        elif (new := hivit_key(key, paths)) is not None:
            encoder_state[new] = value
        else:
            unknown.append(key)
    encoder = create_model(name, **kwargs)
    _check_keys(encoder_state, encoder, unknown, "HiViT", lambda k: hivit_authors_key(k, paths))
    if index is not None and not _same_index(encoder, index):
        raise ValueError("relative_position_index differs from the Swin/HiViT one qpt builds")
    encoder.load_state_dict(encoder_state)
    full = None
    if decoder_state:
        dec = decoder_config(decoder_state, mae_latent.HIVIT_DECODERS, overrides)
        full = _latent_mae(f"mae_{name}", kwargs, dec, encoder_state, decoder_state, overrides)
    return Converted(encoder.eval(), full, "hivit-mae" if mae else "hivit", head)


def _same_index(encoder: nn.Module, index: Tensor) -> bool:
    blocks = [b for b in encoder.blocks if b.rel_pos is not None]
    return not blocks or torch.equal(blocks[0].rel_pos.relative_position_index, index.reshape(-1))


def convert_vit(state: dict[str, Tensor], timm: bool, overrides: dict[str, Any]) -> Converted:
    """MAE's ``MaskedAutoencoderViT`` or a timm ViT -> qpt :class:`VisionTransformer`."""
    state, head = _split_head(state)
    name, kwargs = vit_config(state, timm, overrides)
    encoder_state = {k: v for k, v in state.items() if not k.startswith(DECODER_PREFIXES)}
    decoder_state = {k: v for k, v in state.items() if k.startswith(DECODER_PREFIXES)}
    unknown = list(decoder_state) if timm else []
    encoder = create_model(name, **kwargs)
    _check_keys(encoder_state, encoder, unknown, "timm ViT" if timm else "MAE ViT", str)
    encoder.load_state_dict(encoder_state)
    full = None
    if decoder_state and not timm:
        dec = decoder_config(decoder_state, mae_latent.VIT_DECODERS, overrides)
        full = _latent_mae(f"mae_{name}", kwargs, dec, encoder_state, decoder_state, overrides)
    return Converted(encoder.eval(), full, "timm-vit" if timm else "mae", head)


def _latent_mae(
    name: str,
    enc_kwargs: dict,
    dec_kwargs: dict,
    encoder_state: dict[str, Tensor],
    decoder_state: dict[str, Tensor],
    overrides: dict[str, Any],
) -> nn.Module:
    """The full :class:`LatentMAE` holding converted encoder + decoder weights."""
    kwargs = {k: v for k, v in enc_kwargs.items() if k not in ("ape", "rpe", "out", "pos")}
    if name.startswith("mae_hivit"):
        kwargs["msff"] = enc_kwargs["out"] == "hifeat"
        paths = hivit_paths(enc_kwargs["depths"])
        authors = lambda k: hivit_authors_key(k.removeprefix("encoder."), paths)  # noqa: E731
    else:
        authors = lambda k: k.removeprefix("encoder.")  # noqa: E731
    kwargs.update(dec_kwargs)
    kwargs.update({k: overrides[k] for k in ("mask_ratio", "norm_pix_loss") if k in overrides})
    mae = create_model(name, **kwargs)
    mapped = {f"encoder.{k}": v for k, v in encoder_state.items()} | decoder_state
    _check_keys(mapped, mae, [], name, authors)
    mae.load_state_dict(mapped)
    return mae.eval()


def to_authors_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """A qpt ``hivit_*`` / ``vit_*`` / ``mae_hivit_*`` / ``mae_vit_*`` model's weights under
    the authors' key names (the inverse of :func:`convert_state_dict`).

    Raises:
        ValueError: a model with no authors' counterpart (qpt's own variants, qpt's MSFF).
    """
    from .models import HiViT, LatentMAE, VisionTransformer

    encoder = model.encoder if isinstance(model, LatentMAE) else model
    if not isinstance(encoder, (HiViT, VisionTransformer)):
        raise ValueError(
            f"{getattr(model, 'model_name', type(model).__name__)} has no authors' layout"
        )
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if isinstance(encoder, VisionTransformer):
        return {k.removeprefix("encoder."): v for k, v in state.items()}
    paths = hivit_paths(_depths_of(encoder))
    out = {}
    for k, v in state.items():
        is_encoder = k.startswith("encoder.") or encoder is model
        out[hivit_authors_key(k.removeprefix("encoder."), paths) if is_encoder else k] = v
    rpe = [b.rel_pos for b in encoder.blocks if b.rel_pos is not None]
    if rpe:
        n = encoder.num_patches
        out["relative_position_index"] = rpe[0].relative_position_index.view(n, n).clone()
    return out


def _depths_of(encoder: nn.Module) -> tuple[int, int, int]:
    return len(encoder.stage1) // 2, len(encoder.stage2) // 2, len(encoder.blocks)


def convert_state_dict(
    state: dict[str, Tensor], source: Source, overrides: dict[str, Any] | None = None
) -> Converted:
    """Convert a state dict under ``source``'s key names (see the module docstring).

    Args:
        state: tensors (wrappers are removed with :func:`unwrap_state_dict`).
        source: ``hivit``, ``hivit-mae``, ``mae`` or ``timm-vit``.
        overrides: architecture numbers no tensor shape carries (``num_heads``,
            ``decoder_heads``, ``img_size``) and ``mask_ratio`` / ``norm_pix_loss``.

    Raises:
        ValueError: unknown source, or keys that do not fit (all of them listed).
    """
    overrides = dict(overrides or {})
    known = {"num_heads", "decoder_heads", "img_size", "mask_ratio", "norm_pix_loss"}
    if set(overrides) - known:
        raise ValueError(
            f"unknown conversion override(s) {sorted(set(overrides) - known)}; "
            f"known: {sorted(known)}"
        )
    if source in ("hivit", "hivit-mae"):
        return convert_hivit(unwrap_state_dict(state), source == "hivit-mae", overrides)
    if source in ("mae", "timm-vit"):
        return convert_vit(unwrap_state_dict(state), source == "timm-vit", overrides)
    raise ValueError(f"unknown source '{source}'; one of {', '.join(SOURCES)}")


def write_export(conv: Converted, out_dir: str | Path, source_file: str | None = None) -> Path:
    """Write a qpt export folder (see the module docstring) and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enc = conv.encoder
    save_safetensors(enc.state_dict(), out / ENCODER_FILE)
    mae = None
    if conv.mae is not None:
        save_safetensors(conv.mae.state_dict(), out / MAE_FILE)
        mae = {"model": conv.mae.model_name, "model_kwargs": conv.mae.model_kwargs}
    elif (out / MAE_FILE).exists():
        (out / MAE_FILE).unlink()
    config = {
        "format_version": EXPORT_FORMAT_VERSION,
        "model": enc.model_name,
        "model_kwargs": enc.model_kwargs,
        "img_size": enc.img_size,
        "num_features": enc.num_features,
        "input": "RGB float (B, 3, img_size, img_size) in [0, 1]; normalised inside",
        "mae": mae,
        "source": {"from": conv.source, "file": source_file, "dropped_keys": conv.dropped},
    }
    from qpt_base.atomic import atomic_write_text

    atomic_write_text(out / CONFIG_FILE, json.dumps(config, indent=2))
    return out


def convert_file(
    src: str | Path, source: Source, out_dir: str | Path, overrides: dict[str, Any] | None = None
) -> tuple[Path, Converted]:
    """``qpt convert``: read ``src``, convert, check by loading the export back, write it."""
    if source not in SOURCES:
        raise ValueError(f"unknown source '{source}'; one of {', '.join(SOURCES)}")
    state = read_state_dict(src)
    try:
        conv = convert_state_dict(state, source, overrides)
    except ValueError as e:
        raise ValueError(f"{src}: {e}") from None
    out = write_export(conv, out_dir, str(src))
    from .checkpoint import load_backbone

    load_backbone(out)  # the folder must load back strictly
    return out, conv
