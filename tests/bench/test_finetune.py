"""Layer-wise lr decay groups and a fine-tune that learns a learnable score."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.backbones import Backbone
from bench.datasets.base import BenchDataset, Sample
from bench.features import InputConfig
from bench.finetune import FinetuneConfig, _Scorer, finetune_predict, layer_ids, param_groups
from bench.metrics import compute_metrics


class TinyEncoder(nn.Module):
    """Stem, two blocks, a norm: the timm/MAE naming the layer-decay rule relies on."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 4, 4)
        self.blocks = nn.ModuleList([nn.Conv2d(8, 8, 3, padding=1) for _ in range(2)])
        self.norm = nn.LayerNorm(8)
        self.num_features = 8

    def forward_features(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = x + torch.relu(b(x))
        return self.norm(x.mean((2, 3)))


def test_layer_ids_of_hivit_follow_its_blocks():
    from train.models import create_backbone

    enc = create_backbone("hivit_nano")
    ids, n = layer_ids(enc)
    assert n == len(enc.blocks)
    assert ids["patch_embed.weight"] == 0 and ids["stage1.0.norm.weight"] == 0
    assert {ids[k] for k in ids if k.startswith("blocks.0.")} == {1}
    assert {ids[k] for k in ids if k.startswith(f"blocks.{n - 1}.")} == {n}
    assert ids["fc_norm.weight"] == n + 1


def test_param_groups_decay_lr_towards_the_input():
    model = _Scorer(TinyEncoder(), 8)
    groups = param_groups(model, FinetuneConfig(layer_decay=0.5))
    scales = sorted({g["lr_scale"] for g in groups})
    assert scales == [0.125, 0.25, 0.5, 1.0]  # stem, block 1, block 2, norm + head
    no_decay = [g for g in groups if g["weight_decay"] == 0.0]
    assert all(p.ndim == 1 for g in no_decay for p in g["params"])
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(model.parameters()))


def test_finetune_learns_brightness_as_quality():
    rng = np.random.default_rng(0)
    levels = rng.uniform(0, 1, 48)
    images = [
        np.clip(40 + 170 * v + rng.normal(0, 10, (40, 40, 3)), 0, 255).astype(np.uint8)
        for v in levels
    ]
    samples = [Sample(f"s{i}", None, float(v)) for i, v in enumerate(levels)]
    ds = BenchDataset("toy", "iqa", "image", samples, (0.0, 1.0), reader=lambda i: images[i])
    torch.manual_seed(0)
    backbone = Backbone("toy", TinyEncoder(), 8, 32, "random init")
    train, test = np.arange(36), np.arange(36, 48)
    cfg = FinetuneConfig(epochs=15, batch_size=12, lr=3e-3, layer_decay=0.9)
    pred = finetune_predict(backbone, ds, train, test, InputConfig(crops=2), cfg)
    assert pred.shape == (12,)
    assert compute_metrics(pred, levels[test])["srcc"] > 0.8
    # the caller's backbone is untouched (fine-tuning works on a copy)
    assert backbone.model.stem.weight.grad is None
