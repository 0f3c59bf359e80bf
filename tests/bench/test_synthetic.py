"""The default ``synthetic`` benchmark: one set of defaults, and a spread that decides."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from bench.backbones import Backbone
from bench.datasets.synthetic import build_synthetic, source_views
from bench.features import InputConfig, extract_features
from bench.fit_stage import FinetuneParams
from bench.metrics import compute_metrics, summarize
from bench.nr_features import HandcraftedNR
from bench.params import BenchParams
from bench.protocols import linear_probe, make_splits
from bench.runner import SyntheticConfig


def test_bench_finetune_runner_and_builder_share_the_synthetic_defaults():
    config = SyntheticConfig()
    builder = inspect.signature(build_synthetic).parameters
    for params in (BenchParams(), FinetuneParams()):
        assert params.synthetic_photos == config.photos
        assert params.synthetic_n_photos == config.n_photos == builder["n_photos"].default
        assert params.synthetic_max_ops == config.max_ops == builder["max_ops"].default
        assert params.synthetic_size == config.size == builder["size"].default
        assert (
            params.synthetic_crops_per_photo
            == config.crops_per_photo
            == builder["crops_per_photo"].default
        )
        assert params.frames == InputConfig().frames
    assert BenchParams().crops == InputConfig().crops
    assert BenchParams().batch_size == InputConfig().batch_size


def test_a_seeded_subset_reads_the_same_pixels(photo_dir):
    ds = build_synthetic(photo_dir, crops_per_photo=0, ops=["gaussian_noise"], size=32)
    sub = ds.subset(np.array([7, 3]))  # numpy indices, as a seeded max_items subset gives
    assert [s.key for s in sub.samples] == [ds.samples[7].key, ds.samples[3].key]
    assert (sub.reader(0) == ds.reader(7)).all() and (sub.reader(1) == ds.reader(3)).all()


def test_nine_crops_fill_a_grid_that_keeps_the_four_corner_crops():
    """Crops 5-9 add views on a 3x3 grid; the 4 corner crops stay the same pixels."""
    photo = np.random.default_rng(0).integers(0, 256, (128, 192, 3), dtype=np.uint8)
    four = source_views({"p": photo}, 4, 32)
    nine = source_views({"p": photo}, 9, 32)
    assert list(nine) == ["p"] + [f"p#crop-{i}" for i in range(9)]
    assert len({v.numpy().tobytes() for v in nine.values()}) == 10  # every view differs
    for i, j in enumerate((0, 2, 6, 8)):
        assert torch.equal(four[f"p#crop-{i}"], nine[f"p#crop-{j}"])
    with pytest.raises(ValidationError):
        BenchParams(synthetic_crops_per_photo=10)


@pytest.mark.slow
def test_default_synthetic_split_std_is_under_0_05_for_handcrafted_features():
    """Every default but the image side (64 px): 10 random grouped 80/20 splits, ridge on the
    12 handcrafted features, std of the test SRCC over splits. Slow because it generates the
    4,400 images of the default benchmark."""
    defaults = SyntheticConfig()
    ds = build_synthetic(
        defaults.photos,
        n_photos=defaults.n_photos,
        crops_per_photo=defaults.crops_per_photo,
        max_ops=defaults.max_ops,
        size=64,
    )
    assert len({s.group for s in ds.samples}) >= 100  # many content groups, not many levels
    model = HandcraftedNR()
    backbone = Backbone("handcrafted", model, model.num_features, 64, "no weights")
    feats = extract_features(backbone, ds, InputConfig(crops=1, batch_size=64))
    assert feats.ok.all()
    y = ds.scores
    rows = []
    for split in make_splits(ds, n_splits=10, seed=0):
        x = feats.features
        pred, _ = linear_probe(x[split.train], y[split.train], x[split.test])
        rows.append(compute_metrics(pred, y[split.test], higher_better=ds.higher_better))
    srcc = summarize(rows)["srcc"]
    assert srcc["mean"] > 0.3, srcc  # the features do rank the levels
    assert srcc["std"] < 0.05, srcc
