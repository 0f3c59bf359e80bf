"""A fitted quality scorer: one self-describing folder, loaded and called like a metric.

Folder layout (format version :data:`FORMAT_VERSION`)::

    scorer.json         what the model is and how it was fitted (written last)
    model.safetensors   every weight: ``encoder.*`` (the backbone) and ``head.*``
    split.json          optional: the sample keys of the train / val / test parts

``scorer.json`` holds the architecture (``backbone.arch``: enough to rebuild the encoder with
:func:`bench.backbones.parse_backbone`'s builders), the input protocol (crop size, crops per
image, ``crops`` or ``resize``, frames per video, and whether views are pooled as features or
as scores), the score direction and range of the training data, the dataset and split it was
fitted on, its own test SRCC / PLCC, and the format and qpt versions. Nothing else is needed
to use it (``tests/bench/test_scorer.py`` runs this on a fitted folder)::

    s = Scorer.load("my-scorer")
    s(["a.jpg", "b.png"])        # -> tensor of 2 scores in the training data's units

Heads map pooled ``(B, D)`` features to ``(B,)`` scores in the training data's units:
:class:`LinearHead` (standardise + ridge, computed in float64) averages the features of the
views of an image first (as the bench linear probe does); :class:`TrainedHead` (the fine-tuned
:class:`train.models.ScoreHead`) scores every view and averages the scores (as the bench
fine-tune does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from bench.media import VIDEO_SUFFIXES, UnreadableMedia, make_crops, read_image, to_tensor
from qpt_base.atomic import atomic_path, atomic_write_json

FORMAT = "qpt-scorer"
FORMAT_VERSION = 1
CONFIG_FILE = "scorer.json"
WEIGHTS_FILE = "model.safetensors"
SPLIT_FILE = "split.json"


def qpt_version() -> str:
    """The installed qpt distribution's version (``unknown`` when run from a bare checkout)."""
    try:
        return metadata.version("qpt")
    except metadata.PackageNotFoundError:
        return "unknown"


class LinearHead(nn.Module):
    """``(B, D)`` features -> ``(B,)`` scores: ``((f - mean) / scale) @ coef + intercept``.

    The parameters of a fitted ``StandardScaler + Ridge`` pipeline, kept in float64 so the
    scores equal scikit-learn's predictions on the same features.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("scale", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("coef", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("intercept", torch.zeros((), dtype=torch.float64))

    @classmethod
    def from_pipeline(cls, pipeline: Any) -> LinearHead:
        """From a fitted ``make_pipeline(StandardScaler(), Ridge...)``."""
        scaler, ridge = pipeline[0], pipeline[-1]
        head = cls(len(scaler.mean_))
        head.mean.copy_(torch.from_numpy(np.asarray(scaler.mean_, dtype=np.float64)))
        head.scale.copy_(torch.from_numpy(np.asarray(scaler.scale_, dtype=np.float64)))
        head.coef.copy_(torch.from_numpy(np.asarray(ridge.coef_, dtype=np.float64).ravel()))
        head.intercept.fill_(float(np.asarray(ridge.intercept_).ravel()[0]))
        return head

    def forward(self, features: Tensor) -> Tensor:
        return ((features.double() - self.mean) / self.scale) @ self.coef + self.intercept


class TrainedHead(nn.Module):
    """A :class:`train.models.ScoreHead` trained on standardised targets, mapped back to score
    units: ``(B, D)`` -> ``(B,)`` float64."""

    def __init__(self, dim: int, target_mean: float = 0.0, target_std: float = 1.0) -> None:
        super().__init__()
        from train.models import ScoreHead

        self.head = ScoreHead(dim)
        self.register_buffer("target_mean", torch.tensor(target_mean, dtype=torch.float64))
        self.register_buffer("target_std", torch.tensor(target_std, dtype=torch.float64))

    def forward(self, features: Tensor) -> Tensor:
        return self.head(features).double() * self.target_std + self.target_mean


def build_head(kind: str, dim: int) -> nn.Module:
    """An empty head of ``kind`` (``linear`` or ``finetune``) for ``dim`` features."""
    if kind == "linear":
        return LinearHead(dim)
    if kind == "finetune":
        return TrainedHead(dim)
    raise ValueError(f"unknown scorer head '{kind}' (known: linear, finetune)")


def build_encoder(arch: dict[str, Any], img_size: int) -> nn.Module:
    """A fresh encoder of the architecture recorded in ``scorer.json`` (weights loaded after).

    Raises:
        ValueError: an architecture kind this qpt cannot build.
    """
    from bench.backbones import create_random, parse_backbone

    kind = arch.get("kind")
    if kind == "handcrafted":
        return parse_backbone("handcrafted").model
    if kind == "qpt":
        kwargs = {**arch.get("model_kwargs", {}), "img_size": img_size}
        return create_random(str(arch["model"]), **kwargs).model
    if kind in ("timm", "open_clip"):
        return parse_backbone(f"{kind}:{arch['model']}").model
    raise ValueError(f"unknown backbone architecture {arch!r}")


class Scorer(nn.Module):
    """A backbone + head that scores images; see the module docstring.

    Call it on a path, a PIL image, an ``(H, W, 3)`` uint8 array, a ``(3, H, W)`` or
    ``(B, 3, H, W)`` float tensor in [0, 1], or a list of any of these: it returns ``(B,)``
    float32 scores on the CPU, in the units and direction of the training data
    (``meta["score"]``). The same image gives the same score whatever form it comes in.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, meta: dict[str, Any]) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.meta = meta
        inputs = meta["input"]
        self.crop_size = int(inputs["crop_size"])
        self.crops = int(inputs["crops"])
        self.mode = str(inputs["mode"])
        self.frames = int(inputs["frames"])
        self.pool = str(inputs["pool"])
        self.batch_size = int(inputs.get("batch_size", 32))
        self.eval()

    @property
    def device(self) -> torch.device:
        """Where the weights live (``s.to("cuda")`` moves them)."""
        for t in list(self.head.buffers()) + list(self.head.parameters()):
            return t.device
        return torch.device("cpu")

    @property
    def higher_better(self) -> bool:
        """Direction of the scores (False for DMOS-like training data)."""
        return bool(self.meta["score"]["higher_better"])

    # -- pixels -> views ---------------------------------------------------------------

    def frames_of(self, item: Any) -> list[Tensor]:
        """The ``(3, H, W)`` float frames of one input (one for an image, several for a video).

        Raises:
            UnreadableMedia: a path that cannot be decoded.
            ValueError: an input of an unsupported type or shape.
        """
        if isinstance(item, (str, os.PathLike)):
            path = Path(item)
            if path.suffix.lower() in VIDEO_SUFFIXES:
                from bench.media import read_video_frames

                return [to_tensor(f) for f in read_video_frames(path, self.frames)]
            return [to_tensor(read_image(path))]
        if isinstance(item, np.ndarray):
            if item.dtype != np.uint8 or item.ndim != 3 or item.shape[-1] != 3:
                raise ValueError(
                    f"scorer: arrays must be (H, W, 3) uint8 RGB, got {item.dtype} {item.shape}"
                )
            return [to_tensor(item if item.flags.writeable else item.copy())]
        if isinstance(item, Tensor):
            return [_checked_tensor(item)]
        from PIL import Image, ImageOps

        if isinstance(item, Image.Image):
            rgb = ImageOps.exif_transpose(item).convert("RGB")
            return [to_tensor(np.array(rgb))]
        raise ValueError(f"scorer: cannot score a {type(item).__name__}")

    def views_of(self, frames: Sequence[Tensor]) -> Tensor:
        """``(V, 3, S, S)`` views of an input's frames (crops x frames)."""
        return torch.cat([make_crops(f, self.crop_size, self.crops, self.mode) for f in frames])

    # -- views -> scores ---------------------------------------------------------------

    @torch.no_grad()
    def score_views(self, views: Sequence[Tensor]) -> Tensor:
        """Scores of several inputs from their views: a list of ``(V_i, 3, S, S)`` -> ``(N,)``
        float32 on the CPU. Views go through the encoder ``batch_size`` at a time."""
        if not views:
            return torch.zeros(0)
        self.eval()
        dev = self.device
        flat = torch.cat(list(views))
        feats = torch.cat(
            [
                self.encoder.forward_features(flat[i : i + self.batch_size].to(dev)).float()
                for i in range(0, len(flat), self.batch_size)
            ]
        )
        out, start = [], 0
        for v in views:
            f = feats[start : start + len(v)]
            start += len(v)
            if self.pool == "features":
                out.append(self.head(f.mean(0, keepdim=True))[0])
            else:
                out.append(self.head(f).mean())
        return torch.stack(out).float().cpu()

    def forward(self, images: Any) -> Tensor:
        """Scores of ``images`` (see the class docstring): ``(B,)`` float32."""
        items = _as_items(images)
        try:
            views = [self.views_of(self.frames_of(item)) for item in items]
        except UnreadableMedia as exc:
            raise ValueError(str(exc)) from None
        return self.score_views(views)

    # -- folder ------------------------------------------------------------------------

    def save(self, folder: str | Path, split: dict[str, list[str]] | None = None) -> Path:
        """Write the scorer folder (weights first, ``scorer.json`` last); returns it."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "qpt_version": qpt_version(),
            **{k: v for k, v in self.meta.items() if k not in ("format", "format_version")},
        }
        # tied weights are stored once per name (clone): every key loads back by name
        state = {k: v.detach().cpu().contiguous().clone() for k, v in self.state_dict().items()}
        with atomic_path(folder / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"format": FORMAT})
        if split is not None:
            atomic_write_json(folder / SPLIT_FILE, split, indent=None)
        atomic_write_json(folder / CONFIG_FILE, meta)
        self.meta = meta
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> Scorer:
        """Read a scorer folder.

        Raises:
            ValueError: not a scorer folder, a missing file, another format version, or
                weights that do not match the recorded architecture (one line, naming the file).
        """
        folder = Path(folder)
        meta = read_meta(folder)
        backbone = meta["backbone"]
        try:
            encoder = build_encoder(backbone["arch"], int(backbone["img_size"]))
            head = build_head(str(meta["head"]), int(backbone["num_features"]))
            scorer = cls(encoder, head, meta)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{folder / CONFIG_FILE}: missing or bad field {exc}") from None
        _load_weights(scorer, folder / WEIGHTS_FILE)
        return scorer.to(device)


def read_meta(folder: Path) -> dict[str, Any]:
    """``scorer.json`` of ``folder``, checked for format and version (``ValueError`` if not)."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: scorer folder not found")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ValueError(f"{folder}: missing {CONFIG_FILE} (not a qpt scorer folder)")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f'{path}: not a qpt scorer description (no "format": "{FORMAT}")')
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: scorer format version {version} (saved by qpt "
            f"{meta.get('qpt_version', '?')}); this qpt ({qpt_version()}) reads version "
            f"{FORMAT_VERSION}"
        )
    if not (folder / WEIGHTS_FILE).is_file():
        raise ValueError(f"{folder}: missing {WEIGHTS_FILE}")
    return meta


def _load_weights(scorer: Scorer, path: Path) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise ValueError(f"{path}: cannot read weights ({exc})") from None
    expected = scorer.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    bad_shape = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or bad_shape:
        first = (missing or unexpected or bad_shape)[0]
        raise ValueError(
            f"{path}: weights do not match the architecture in {CONFIG_FILE} "
            f"({len(missing)} missing, {len(unexpected)} unexpected, {len(bad_shape)} "
            f"of another shape; first: {first})"
        )
    scorer.load_state_dict(state, strict=True)


def _checked_tensor(x: Tensor) -> Tensor:
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"scorer: tensors must be (3, H, W) or (B, 3, H, W), got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div(255.0)
    if not x.is_floating_point():
        raise ValueError(f"scorer: tensors must be float in [0, 1] or uint8, got {x.dtype}")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(
            f"scorer: float tensors must be in [0, 1], got [{float(x.min()):.3g}, "
            f"{float(x.max()):.3g}] (divide uint8 pixels by 255)"
        )
    return x.float()


def _as_items(images: Any) -> list[Any]:
    """One list entry per image: batches (tensors, arrays) are split, a single input wrapped."""
    if isinstance(images, Tensor):
        if images.ndim == 4:
            return list(images)
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    if isinstance(images, (list, tuple)):
        return list(images)
    return [images]
