"""Checkpoints: safetensors weights + pickle-free-loadable training state, written atomically.

Layout of a training run's ``checkpoints/`` folder::

    step-00000100/model.safetensors   full MAE weights
    step-00000100/state.pt            optimiser, scheduler, step, RNG states (weights_only)
    step-00000100/config.json         {"model", "model_kwargs", "params", "step"}
    latest                            name of the newest complete checkpoint

An export folder (what ``bench`` loads) holds ``encoder.safetensors`` and ``config.json``
with at least ``{"format_version": 2, "model": "hivit_tiny", "model_kwargs": {...},
"img_size": 224}``; ``qpt convert`` may add ``mae.safetensors`` (the full MAE, for
``qpt pretrain --init``).

Export format versions: 1 (no ``format_version`` key) named qpt's own HiViT / ViT variants
``hivit_*`` / ``vit_*``; since 2 those names are the authors' layouts and qpt's variants are
``qpt_hivit_*`` / ``qpt_vit_*``. A version-1 folder is read with its names mapped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from qpt_base.atomic import atomic_path, atomic_write_text, sweep_temporaries

from .config import PretrainParams
from .models import create_backbone, create_model

MODEL_FILE, STATE_FILE, CONFIG_FILE = "model.safetensors", "state.pt", "config.json"
ENCODER_FILE, MAE_FILE = "encoder.safetensors", "mae.safetensors"
EXPORT_FORMAT_VERSION = 2
# version 1 names -> the same models' names since version 2
_V1_NAMES = {
    f"{mae}{enc}_{size}": f"{mae}qpt_{enc}_{size}"
    for mae in ("", "mae_")
    for enc, sizes in (
        ("hivit", ("nano", "tiny", "small", "base")),
        ("vit", ("tiny", "small", "base")),
    )
    for size in sizes
}
# parameters a resumed run may change (they do not alter the model, schedule or data recipe)
RESUMABLE_CHANGES = {
    "log_every",
    "image_every",
    "keep_ckpts",
    "time_budget_s",
    "shards",
    "device",
    "compile",
    "channels_last",
    "cpu_threads",
    "num_workers",
    "amp",
    "degrade_on",
    "init",  # the weights a run starts from; a resume loads its checkpoint instead
}


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module under DDP and/or ``torch.compile`` wrappers."""
    while True:
        if hasattr(model, "module"):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (not a checkpoint or export folder?)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def upgrade_config(config: dict[str, Any], where: Path) -> dict[str, Any]:
    """An export / checkpoint config in the current format (version-1 names mapped).

    Raises:
        ValueError: a format newer than this qpt reads, or a bad version field.
    """
    version = config.get("format_version", 1)
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{where}: bad format_version {version!r}")
    if version > EXPORT_FORMAT_VERSION:
        raise ValueError(
            f"{where}: export format {version} is newer than this qpt reads "
            f"({EXPORT_FORMAT_VERSION}); upgrade qpt"
        )
    if version == 1:
        name = config.get("model")
        config = {**config, "model": _V1_NAMES.get(name, name)}
        config["format_version"] = EXPORT_FORMAT_VERSION
    return config


def save_safetensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write plain contiguous CPU copies of ``tensors`` to ``path`` atomically."""
    from qpt_base.atomic import atomic_path

    weights = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(weights, str(tmp), metadata={"format": "pt"})


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{path}: unreadable safetensors file ({e})") from None


def load_weights(model: nn.Module, tensors: dict[str, torch.Tensor], where: Path) -> None:
    """Strictly load ``tensors`` into ``model``.

    Raises:
        ValueError: missing or unexpected keys or a shape mismatch, naming the first ones.
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
        for k in own
        if k in tensors and tensors[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatches (e.g. {shapes[0]})")
    if problems:
        raise ValueError(
            f"{where}: weights do not match model '{getattr(model, 'model_name', '?')}': "
            + "; ".join(problems)
        )
    model.load_state_dict(tensors)


def save_checkpoint(
    ckpt_root: Path,
    step: int,
    model: nn.Module,
    state: dict[str, Any],
    config: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write ``ckpt_root/step-XXXXXXXX`` atomically and point ``latest`` at it.

    Args:
        model: the (possibly wrapped) MAE model; its plain weights go to safetensors.
        state: optimiser / scheduler / RNG state (tensors, numbers, strings, lists, dicts).
        config: model name, kwargs and training params (JSON).
        keep: how many checkpoints to keep (older ones are deleted after the new one lands).
    """
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = ckpt_root / name
    with atomic_path(final) as tmp:
        tmp.mkdir()
        plain = unwrap(model)
        weights = {k: v.detach().contiguous().cpu() for k, v in plain.state_dict().items()}
        save_file(weights, str(tmp / MODEL_FILE))
        torch.save({**state, "step": step}, tmp / STATE_FILE)
        record = {"format_version": EXPORT_FORMAT_VERSION, **config, "step": step}
        (tmp / CONFIG_FILE).write_text(json.dumps(record, indent=2))
        if final.exists():
            shutil.rmtree(final)
    atomic_write_text(ckpt_root / "latest", name)
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and p.name != name)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Remove what writers killed mid-write left in a run folder: temporaries of checkpoint
    folders, of ``latest``, of the export and of ``metrics.jsonl``; returns what went.

    Only for the one process that owns ``run_dir`` (rank 0, before it writes)."""
    gone = []
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "export"):
        if folder.is_dir():
            gone += sweep_temporaries(folder)
    return gone


def latest_checkpoint(ckpt_root: Path) -> Path | None:
    """The newest complete checkpoint folder under ``ckpt_root``, or None."""
    pointer = ckpt_root / "latest"
    if pointer.is_file():
        cand = ckpt_root / pointer.read_text().strip()
        if (cand / STATE_FILE).is_file():
            return cand
    done = sorted(p for p in ckpt_root.glob("step-*") if (p / STATE_FILE).is_file())
    return done[-1] if done else None


def find_checkpoint(path: str | Path) -> Path:
    """A checkpoint folder from a run folder, its ``checkpoints/`` or a step folder.

    Raises:
        FileNotFoundError: no complete checkpoint there.
    """
    path = Path(path)
    if (path / STATE_FILE).is_file():
        return path
    root = path / "checkpoints" if (path / "checkpoints").is_dir() else path
    found = latest_checkpoint(root) if root.is_dir() else None
    if found is None:
        raise FileNotFoundError(f"{path}: no complete pretraining checkpoint found")
    return found


def check_resume_params(ckpt: Path, params: PretrainParams) -> None:
    """Refuse to continue a checkpoint written with another recipe (schedule, data, model).

    Raises:
        ValueError: naming the first differing parameter and both values.
    """
    try:
        saved = json.loads((ckpt / CONFIG_FILE).read_text()).get("params", {})
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{ckpt / CONFIG_FILE}: unreadable ({e})") from None
    now = params.model_dump(mode="json")
    diff = [k for k in now if k not in RESUMABLE_CHANGES and k in saved and saved[k] != now[k]]
    if diff:
        k = diff[0]
        raise ValueError(
            f"{ckpt}: written with {k}={saved[k]!r}, this run has {k}={now[k]!r}"
            f" ({len(diff)} parameter(s) differ); use another output folder to start afresh"
        )


def load_checkpoint(
    ckpt: Path, model: nn.Module, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load weights into ``model`` (checked against the recorded config) and return the state.

    Raises:
        ValueError: the checkpoint was written for another model config, or is corrupt.
        FileNotFoundError: files missing.
    """
    config = upgrade_config(_read_json(ckpt / CONFIG_FILE), ckpt / CONFIG_FILE)
    plain = unwrap(model)
    mine_by_key = {"model": getattr(plain, "model_name", None)}
    mine_by_key["model_kwargs"] = getattr(plain, "model_kwargs", None)
    for key, mine in mine_by_key.items():
        if key in config and config[key] != mine:
            raise ValueError(
                f"{ckpt}: checkpoint is for {key}={config[key]!r}, this run uses {mine!r}"
            )
    load_weights(plain, _read_safetensors(ckpt / MODEL_FILE), ckpt)
    path = ckpt / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001  (any unpickling failure is a bad file)
        raise ValueError(f"{path}: unreadable training state ({type(e).__name__}: {e})") from None


def export_encoder(ckpt: Path, out_dir: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/encoder.safetensors`` + ``config.json`` from a training checkpoint.

    The encoder is rebuilt from the recorded config and loaded strictly, so a broken export
    fails here rather than in ``bench``.
    """
    config = upgrade_config(_read_json(ckpt / CONFIG_FILE), ckpt / CONFIG_FILE)
    name = config.get("model", "")
    if not isinstance(name, str) or not name.startswith("mae_"):
        raise ValueError(f"{ckpt / CONFIG_FILE}: 'model' must name a mae_* model, got {name!r}")
    mae = create_model(name, **config.get("model_kwargs", {}))
    tensors = _read_safetensors(ckpt / MODEL_FILE)
    load_weights(mae, tensors, ckpt)
    encoder = mae.encoder  # built by create_model, so it knows its own name and kwargs
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = {k: v.contiguous() for k, v in encoder.state_dict().items()}
    with atomic_path(out_dir / ENCODER_FILE) as tmp:
        save_file(weights, str(tmp), metadata={"format": "pt"})
    exported = {
        "format_version": EXPORT_FORMAT_VERSION,
        "model": encoder.model_name,
        "model_kwargs": encoder.model_kwargs,
        "img_size": encoder.img_size,
        "num_features": encoder.num_features,
        "input": "RGB float (B, 3, img_size, img_size) in [0, 1]; normalised inside",
        "source_checkpoint": str(ckpt),
        "step": config.get("step"),
        **(extra or {}),
    }
    atomic_write_text(out_dir / CONFIG_FILE, json.dumps(exported, indent=2))
    return out_dir


def load_backbone(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild an exported encoder: ``model, config = load_backbone("runs/x/pretrain/export")``.

    Args:
        path: an export folder (``encoder.safetensors`` + ``config.json``) or the
            ``encoder.safetensors`` file itself.

    Returns:
        the encoder in eval mode (see :func:`train.models.create_backbone` for its interface)
        and the export config.

    Raises:
        FileNotFoundError: folder or files missing.
        ValueError: bad config, unknown model, or weights that do not match the config.
    """
    path = Path(path)
    folder = path.parent if path.suffix == ".safetensors" else path
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: backbone export folder not found")
    raw = _read_json(folder / CONFIG_FILE)
    config = upgrade_config(raw, folder / CONFIG_FILE)
    name, kwargs = config.get("model"), config.get("model_kwargs", {})
    if not isinstance(name, str) or not isinstance(kwargs, dict):
        raise ValueError(f"{folder / CONFIG_FILE}: needs 'model' (str) and 'model_kwargs' (dict)")
    img_size = config.get("img_size")
    if img_size is not None and kwargs.get("img_size", img_size) != img_size:
        raise ValueError(
            f"{folder / CONFIG_FILE}: img_size {img_size} disagrees with model_kwargs "
            f"img_size {kwargs['img_size']}"
        )
    if img_size is not None:
        kwargs = {**kwargs, "img_size": img_size}
    model = create_backbone(name, **kwargs)
    weights = folder / ENCODER_FILE if path.suffix != ".safetensors" else path
    try:
        load_weights(model, _read_safetensors(weights), weights)
    except ValueError as e:
        if "format_version" in raw:
            raise
        raise ValueError(
            f"{e} (a version-1 export, read as {name}: re-export it from its checkpoint "
            "with `qpt pretrain export RUN DIR`, or convert other weights with `qpt convert`)"
        ) from None
    return model.eval(), config
