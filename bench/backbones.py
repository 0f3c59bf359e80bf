"""Backbones to benchmark, from a spec string.

=====================================  ==================================================
spec                                   what it loads
=====================================  ==================================================
``DIR`` or ``export:DIR``              a ``qpt pretrain export`` folder (encoder.safetensors
                                       + config.json), via :func:`train.checkpoint.load_backbone`
``random:NAME``                        ``train.models.create_backbone(NAME)``, random init
``timm:NAME=FILE``                     a timm model with weights from a local file
``open_clip:NAME=FILE``                an open_clip image tower with weights from a local file
``handcrafted``                        classical NR statistics (:mod:`bench.nr_features`), the
                                       floor a learned row must beat
=====================================  ==================================================

Every backbone takes RGB floats in ``[0, 1]`` ``(B, 3, S, S)`` and returns ``(B, D)`` pooled
features: the qpt encoders normalise inside; timm / open_clip models are wrapped with their
own mean/std. :func:`random_init_like` builds the same architecture with fresh weights (the
baseline every table shows beside the pretrained row). Weight files are read without pickle
(safetensors) or with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass
class Backbone:
    """A feature extractor and how to rebuild it.

    Attributes:
        name: row label in reports (``pretrained``, ``random_init``, ``timm:resnet50``).
        model: module with ``forward_features(x) -> (B, D)`` for ``x`` in ``[0, 1]``.
        num_features: D.
        img_size: input side the model expects (crops are made at this size).
        source: where the weights came from (shown in results.json).
        arch: architecture name and kwargs, enough to build a random-init twin.
    """

    name: str
    model: nn.Module
    num_features: int
    img_size: int
    source: str
    arch: dict[str, Any] = field(default_factory=dict)

    @torch.no_grad()
    def features(self, x: Tensor) -> Tensor:
        """``(B, 3, S, S)`` in ``[0, 1]`` -> ``(B, D)`` float32, eval mode."""
        self.model.eval()
        return self.model.forward_features(x).float()


class _Normalized(nn.Module):
    """Wrap a model taking normalised input so that it takes ``[0, 1]`` input."""

    def __init__(self, model: nn.Module, mean: tuple, std: tuple, pool: str = "timm") -> None:
        super().__init__()
        self.inner = model
        self.pool = pool
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward_features(self, x: Tensor) -> Tensor:
        x = (x - self.mean) / self.std
        if self.pool == "open_clip":
            return self.inner(x)
        feats = self.inner.forward_features(x)
        return self.inner.forward_head(feats, pre_logits=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)


def _load_state(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights {path} not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (any unpickling failure is a bad file)
        raise ValueError(f"{path}: cannot read weights ({type(exc).__name__})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a state dict of tensors")
    return state


def load_export(path: str | Path, name: str = "pretrained") -> Backbone:
    """A ``qpt pretrain export`` folder (or its ``encoder.safetensors``)."""
    from train.checkpoint import load_backbone

    model, config = load_backbone(path)
    weights = (
        Path(path) if Path(path).suffix == ".safetensors" else Path(path) / "encoder.safetensors"
    )
    stat = weights.stat()
    return Backbone(
        name=name,
        model=model,
        num_features=int(model.num_features),
        img_size=int(config.get("img_size", getattr(model, "img_size", 224))),
        source=str(path),
        arch={
            "kind": "qpt",
            "model": config["model"],
            "model_kwargs": config.get("model_kwargs", {}),
            # a re-export into the same folder must not reuse cached features or results
            "weights_stamp": f"{stat.st_size}-{stat.st_mtime_ns}",
        },
    )


def create_random(
    arch_name: str, name: str | None = None, seed: int = 0, **kwargs: Any
) -> Backbone:
    """``train.models.create_backbone(arch_name, **kwargs)`` with seeded random weights."""
    from train.models import create_backbone

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_backbone(arch_name, **kwargs).eval()
    return Backbone(
        name=name or f"random:{arch_name}",
        model=model,
        num_features=int(model.num_features),
        img_size=int(getattr(model, "img_size", 224)),
        source="random init",
        arch={"kind": "qpt", "model": arch_name, "model_kwargs": kwargs},
    )


def _timm(arch: str, weights: Path | None) -> tuple[nn.Module, int, int, tuple, tuple]:
    import timm

    model = timm.create_model(arch, pretrained=False, num_classes=0)
    if weights is not None:
        state = _load_state(weights)
        missing, unexpected = model.load_state_dict(state, strict=False)
        head_only = all(k.startswith(("fc.", "head", "classifier")) for k in unexpected)
        if missing or not head_only:
            raise ValueError(
                f"{weights}: weights do not match timm model '{arch}' "
                f"({len(missing)} missing, {len(unexpected)} unexpected)"
            )
    cfg = model.pretrained_cfg or {}
    size = int(cfg.get("input_size", (3, 224, 224))[-1])
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return _Normalized(model, mean, std, "timm"), int(model.num_features), size, mean, std


def _open_clip(arch: str, weights: Path | None) -> tuple[nn.Module, int, int, tuple, tuple]:
    import open_clip

    if weights is not None and not weights.is_file():
        raise FileNotFoundError(f"backbone weights {weights} not found")
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, pretrained=str(weights) if weights else None
    )
    visual = model.visual
    size = visual.image_size if isinstance(visual.image_size, int) else visual.image_size[0]
    mean = tuple(getattr(visual, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN)
    std = tuple(getattr(visual, "image_std", None) or open_clip.OPENAI_DATASET_STD)
    dim = int(getattr(visual, "output_dim", 0) or model.text_projection.shape[-1])
    return _Normalized(visual, mean, std, "open_clip"), dim, int(size), mean, std


def parse_backbone(spec: str, name: str | None = None) -> Backbone:
    """Build the backbone described by ``spec`` (see the module docstring).

    Raises:
        ValueError: unknown spec form or model; FileNotFoundError: missing weights.
    """
    if spec == "handcrafted":
        from bench.nr_features import HandcraftedNR

        model = HandcraftedNR()
        return Backbone(
            name or "handcrafted", model, model.num_features, 224, "no weights", {"kind": spec}
        )
    kind, _, rest = spec.partition(":")
    if kind in ("timm", "open_clip") and rest:
        arch, _, file = rest.partition("=")
        weights = Path(file) if file else None
        build = _timm if kind == "timm" else _open_clip
        model, dim, size, _, _ = build(arch, weights)
        return Backbone(
            name=name or f"{kind}:{arch}",
            model=model.eval(),
            num_features=dim,
            img_size=size,
            source=str(weights) if weights else "random init",
            arch={"kind": kind, "model": arch},
        )
    if kind == "random" and rest:
        return create_random(rest, name=name)
    path = Path(rest if kind == "export" else spec)
    if not path.exists():
        raise FileNotFoundError(
            f"backbone '{spec}': {path} not found (use an export folder, random:NAME, "
            "timm:NAME=FILE or open_clip:NAME=FILE)"
        )
    return load_export(path, name=name or "pretrained")


def random_init_like(backbone: Backbone, seed: int = 0) -> Backbone:
    """The same architecture as ``backbone`` with random weights (name ``random_init``)."""
    arch = backbone.arch
    if arch.get("kind") == "qpt":
        return create_random(arch["model"], "random_init", seed, **arch.get("model_kwargs", {}))
    if arch.get("kind") in ("timm", "open_clip"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            rebuilt = parse_backbone(f"{arch['kind']}:{arch['model']}", name="random_init")
        return rebuilt
    model = copy.deepcopy(backbone.model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in model.modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return Backbone(
        "random_init", model, backbone.num_features, backbone.img_size, "random init", arch
    )
