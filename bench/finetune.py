"""Full fine-tuning: backbone + :class:`train.models.ScoreHead`, layer-wise lr decay.

Recipe (BEiT/MAE fine-tuning family, scaled down): AdamW, cosine schedule with a linear
warm-up over the first epoch, MSE on standardised targets (train-side mean/std), random
native-resolution crops with horizontal flips for training, the test-time views of
:mod:`bench.features` averaged at test. For a video a random sampled frame is one training
view; at test every sampled frame is scored and the scores are averaged.

Layer-wise lr decay: the backbone's ``blocks`` (timm/MAE convention) get layer ids 1..L,
everything registered before them (stem, early stages) 0, everything after (final norm) and
the head L + 1; a parameter group of layer ``i`` trains at ``lr * decay ** (L + 1 - i)``. A
backbone without ``blocks`` numbers its top-level children in order instead. Norms and biases
get no weight decay.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from bench.backbones import Backbone
from bench.datasets.base import BenchDataset
from bench.features import InputConfig, load_pixels
from bench.media import make_crops, random_crop


@dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning hyper-parameters (defaults sized for a short CPU run)."""

    epochs: int = 3
    batch_size: int = 16
    lr: float = 2e-4
    layer_decay: float = 0.75
    weight_decay: float = 0.05
    seed: int = 0


class _Scorer(nn.Module):
    def __init__(self, encoder: nn.Module, dim: int) -> None:
        super().__init__()
        from train.models import ScoreHead

        self.encoder = encoder
        self.head = ScoreHead(dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder.forward_features(x))


def layer_ids(encoder: nn.Module) -> tuple[dict[str, int], int]:
    """Layer id of every encoder parameter name and the number of layers L (see module doc)."""
    children = [name for name, _ in encoder.named_children()]
    blocks = getattr(encoder, "blocks", None)
    ids: dict[str, int] = {}
    if isinstance(blocks, (nn.ModuleList, nn.Sequential)) and "blocks" in children:
        n_blocks = len(blocks)
        after = set(children[children.index("blocks") + 1 :])
        for name, _ in encoder.named_parameters():
            top = name.split(".", 1)[0]
            if top == "blocks":
                ids[name] = int(name.split(".")[1]) + 1
            elif top in after:
                ids[name] = n_blocks + 1
            else:
                ids[name] = 0
        return ids, n_blocks
    order = {name: i for i, name in enumerate(children)}
    for name, _ in encoder.named_parameters():
        ids[name] = order.get(name.split(".", 1)[0], len(children))
    return ids, max(len(children) - 1, 0)


def param_groups(model: _Scorer, cfg: FinetuneConfig) -> list[dict]:
    """AdamW parameter groups with layer-wise lr scales and no decay on norms/biases."""
    ids, n_layers = layer_ids(model.encoder)
    groups: dict[tuple[int, bool], dict] = {}
    named = [(f"encoder.{n}", p, ids[n]) for n, p in model.encoder.named_parameters()]
    named += [(f"head.{n}", p, n_layers + 1) for n, p in model.head.named_parameters()]
    for name, p, layer in named:
        if not p.requires_grad:
            continue
        no_decay = p.ndim == 1 or name.endswith(".bias")
        scale = cfg.layer_decay ** (n_layers + 1 - layer)
        group = groups.setdefault(
            (layer, no_decay),
            {
                "params": [],
                "lr_scale": scale,
                "weight_decay": 0.0 if no_decay else cfg.weight_decay,
            },
        )
        group["params"].append(p)
    return list(groups.values())


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Learning rate at ``step`` (0-based): linear warm-up over ``warmup`` steps, then cosine."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_view(
    dataset: BenchDataset, index: int, size: int, inputs: InputConfig, g: torch.Generator
) -> Tensor:
    """One random training view ``(3, size, size)`` of sample ``index`` (a random frame of a
    video). Raises :class:`bench.media.UnreadableMedia` for a file that cannot be decoded."""
    frames = load_pixels(dataset, index, inputs.frames)
    frame = frames[int(torch.randint(0, len(frames), (1,), generator=g))]
    return random_crop(frame, size, g, inputs.mode)


def finetune_predict(
    backbone: Backbone,
    dataset: BenchDataset,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    inputs: InputConfig,
    cfg: FinetuneConfig,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Fine-tune a copy of ``backbone`` on ``train_idx`` and predict ``test_idx``.

    Returns:
        (N_test,) predictions in the dataset's score units.
    """
    dev = torch.device(device)
    g = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = _Scorer(copy.deepcopy(backbone.model), backbone.num_features).to(dev)
    y = dataset.scores
    mean, std = float(y[train_idx].mean()), float(y[train_idx].std()) or 1.0
    groups = param_groups(model, cfg)
    opt = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))
    steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, steps_per_epoch
    step = 0
    model.train()
    for _ in range(cfg.epochs):
        order = train_idx[torch.randperm(len(train_idx), generator=g).numpy()]
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            x = torch.stack(
                [train_view(dataset, int(i), backbone.img_size, inputs, g) for i in batch]
            )
            target = torch.tensor((y[batch] - mean) / std, dtype=torch.float32, device=dev)
            lr = lr_at(step, total, warmup, cfg.lr)
            for group in opt.param_groups:
                group["lr"] = lr * group["lr_scale"]
            loss = nn.functional.mse_loss(model(x.to(dev)), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if progress:
                progress(len(batch))
    model.eval()
    preds = []
    with torch.no_grad():
        for i in test_idx:
            frames = load_pixels(dataset, int(i), inputs.frames)
            views = torch.cat(
                [make_crops(f, backbone.img_size, inputs.crops, inputs.mode) for f in frames]
            )
            preds.append(float(model(views.to(dev)).mean()) * std + mean)
            if progress:
                progress(1)
    return np.asarray(preds, dtype=np.float64)
