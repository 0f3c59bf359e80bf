"""Evaluation protocols: which samples train the head, which score it, and the linear probe.

* Official split when the authors publish one (KonIQ, AVA, AADB, TAD66K, LSVQ): one split.
* Otherwise ``n_splits`` random 80/20 splits, split ``i`` drawn with seed ``seed + i`` (adding
  splits later keeps the first ones identical, which resumption relies on). Samples sharing a
  ``group`` (KADID reference image, synthetic source photo) stay on one side
  (:class:`sklearn.model_selection.GroupShuffleSplit`).
* Unreadable samples are removed from both sides after splitting (counted in the reports).

Linear probe: standardised frozen features -> ridge regression with the penalty chosen by
efficient leave-one-out CV on the training side only (:class:`sklearn.linear_model.RidgeCV`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from bench.datasets.base import BenchDataset

RIDGE_ALPHAS = np.logspace(-3, 5, 17)


@dataclass(frozen=True)
class Split:
    """Indices into the dataset's samples."""

    name: str
    train: np.ndarray
    test: np.ndarray


def make_splits(
    dataset: BenchDataset,
    n_splits: int = 10,
    seed: int = 0,
    test_fraction: float = 0.2,
    ok: np.ndarray | None = None,
) -> list[Split]:
    """The protocol's splits (see the module docstring).

    Args:
        ok: (N,) bool, samples usable (readable); others are dropped from both sides.

    Raises:
        ValueError: a split side would have fewer than 3 usable samples, or bad arguments.
    """
    if n_splits < 1:
        raise ValueError(f"splits: n_splits must be >= 1, got {n_splits}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"splits: test_fraction must be in (0, 1), got {test_fraction}")
    usable = np.ones(len(dataset), dtype=bool) if ok is None else np.asarray(ok, dtype=bool)
    if dataset.official_split is not None:
        raw = [
            (
                "official",
                np.asarray(dataset.official_split["train"], dtype=np.int64),
                np.asarray(dataset.official_split["test"], dtype=np.int64),
            )
        ]
    else:
        groups = np.array([s.group or s.key for s in dataset.samples])
        if len(set(groups)) < 2:
            raise ValueError(f"{dataset.name}: need at least 2 groups of samples to split")
        raw = []
        for i in range(n_splits):
            splitter = GroupShuffleSplit(n_splits=1, test_size=test_fraction, random_state=seed + i)
            train, test = next(splitter.split(np.zeros(len(groups)), groups=groups))
            raw.append((f"split-{i:02d}", np.sort(train), np.sort(test)))
    splits = []
    for name, train, test in raw:
        train, test = train[usable[train]], test[usable[test]]
        if len(train) < 3 or len(test) < 3:
            raise ValueError(
                f"{dataset.name}: {name} has {len(train)} train / {len(test)} test usable samples "
                "(need at least 3 each)"
            )
        splits.append(Split(name, train, test))
    return splits


def fit_ridge(train_x: np.ndarray, train_y: np.ndarray) -> Pipeline:
    """Standardise + :class:`RidgeCV` fitted on ``(N, D)`` features and ``(N,)`` scores."""
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    model.fit(np.asarray(train_x, dtype=np.float64), np.asarray(train_y, dtype=np.float64))
    return model


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray
) -> tuple[np.ndarray, dict[str, float]]:
    """Fit ridge regression on frozen features and predict the test side.

    Args:
        train_x: (N_train, D) features; train_y: (N_train,) scores; test_x: (N_test, D).

    Returns:
        (N_test,) predictions and ``{"alpha": chosen penalty}``.
    """
    model = fit_ridge(train_x, train_y)
    pred = model.predict(np.asarray(test_x, dtype=np.float64))
    return pred, {"alpha": float(model[-1].alpha_)}
