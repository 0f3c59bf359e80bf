"""Splits (official, random grouped, resumable) and the linear probe."""

from __future__ import annotations

import numpy as np
import pytest

from bench.datasets import load_dataset
from bench.datasets.base import BenchDataset, Sample
from bench.protocols import linear_probe, make_splits


def _dataset(n: int = 50, groups: int | None = None) -> BenchDataset:
    samples = [
        Sample(f"k{i}", None, float(i), f"g{i % groups}" if groups else None) for i in range(n)
    ]
    return BenchDataset("toy", "iqa", "image", samples, (0.0, float(n)))


def test_random_splits_are_80_20_disjoint_and_reproducible():
    ds = _dataset()
    a = make_splits(ds, n_splits=3, seed=7)
    b = make_splits(ds, n_splits=5, seed=7)
    assert [s.name for s in a] == ["split-00", "split-01", "split-02"]
    for s in a:
        assert len(s.test) == 10 and len(s.train) == 40 and not set(s.train) & set(s.test)
    assert all(np.array_equal(x.test, y.test) for x, y in zip(a, b[:3], strict=True))
    assert not np.array_equal(a[0].test, a[1].test)


def test_groups_never_straddle_a_split():
    ds = _dataset(60, groups=6)
    for s in make_splits(ds, n_splits=4):
        train_groups = {ds.samples[i].group for i in s.train}
        test_groups = {ds.samples[i].group for i in s.test}
        assert not train_groups & test_groups


def test_official_split_replaces_random_ones(expected):
    ds = load_dataset("tad66k", expected["tad66k"][0])
    splits = make_splits(ds, n_splits=10)
    assert [s.name for s in splits] == ["official"]
    assert list(splits[0].test) == ds.official_split["test"]


def test_unreadable_samples_leave_both_sides():
    ds = _dataset()
    ok = np.ones(50, bool)
    ok[[0, 1, 2, 3]] = False
    for s in make_splits(ds, n_splits=2, ok=ok):
        assert not {0, 1, 2, 3} & set(s.train.tolist() + s.test.tolist())
        assert len(s.train) + len(s.test) == 46


def test_too_few_usable_samples_is_an_error():
    with pytest.raises(ValueError, match="need at least 3 each"):
        make_splits(_dataset(10), n_splits=1, ok=np.arange(10) < 3)
    with pytest.raises(ValueError, match="n_splits"):
        make_splits(_dataset(), n_splits=0)


def test_linear_probe_recovers_a_linear_score():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 16))
    y = x @ rng.normal(size=16) + 0.05 * rng.normal(size=120)
    pred, extra = linear_probe(x[:100], y[:100], x[100:])
    assert np.corrcoef(pred, y[100:])[0, 1] > 0.99
    assert extra["alpha"] > 0
    noise_pred, _ = linear_probe(x[:100], rng.normal(size=100), x[100:])
    assert abs(np.corrcoef(noise_pred, y[100:])[0, 1]) < 0.5
