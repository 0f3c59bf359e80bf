"""SRCC / PLCC / KRCC / RMSE against scipy and hand-computed values; the NaN policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bench.metrics import compute_metrics, fit_logistic4, logistic4, summarize


def test_matches_scipy_on_random_data():
    rng = np.random.default_rng(0)
    t = rng.normal(size=200)
    p = t + rng.normal(scale=0.7, size=200)
    m = compute_metrics(p, t)
    assert m["srcc"] == pytest.approx(stats.spearmanr(p, t).statistic)
    assert m["plcc"] == pytest.approx(stats.pearsonr(p, t).statistic)
    assert m["krcc"] == pytest.approx(stats.kendalltau(p, t).statistic)
    assert m["rmse"] == pytest.approx(np.sqrt(np.mean((p - t) ** 2)))


def test_hand_computed_values():
    # one swapped pair among 4: d^2 = 2 -> SRCC = 1 - 6*2/(4*15) = 0.8; KRCC = (5-1)/6
    m = compute_metrics([1, 2, 3, 4], [1, 3, 2, 4])
    assert m["srcc"] == pytest.approx(0.8)
    assert m["krcc"] == pytest.approx(4 / 6)
    assert m["rmse"] == pytest.approx(math.sqrt(2 / 4))


def test_ties_use_average_ranks_and_tau_b():
    p, t = [1, 1, 2, 3], [1, 2, 2, 3]
    m = compute_metrics(p, t)
    # ranks p: 1.5 1.5 3 4 ; t: 1 2.5 2.5 4 -> Pearson of ranks
    assert m["srcc"] == pytest.approx(np.corrcoef([1.5, 1.5, 3, 4], [1, 2.5, 2.5, 4])[0, 1])
    assert m["krcc"] == pytest.approx(stats.kendalltau(p, t, variant="b").statistic)


def test_constant_prediction_gives_nan_correlations_but_an_rmse():
    m = compute_metrics([2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    assert math.isnan(m["srcc"]) and math.isnan(m["plcc"]) and math.isnan(m["krcc"])
    assert m["rmse"] == pytest.approx(math.sqrt(1.5))


@pytest.mark.parametrize(
    ("pred", "target", "match"),
    [
        ([1, 2, 3], [1, 2], "3 predictions for 2 targets"),
        ([1, 2], [1, 2], "at least 3 pairs"),
        ([1, float("nan"), 3], [1, 2, 3], "finite"),
        ([1, 2, 3], [1, float("inf"), 3], "finite"),
    ],
)
def test_bad_input_raises(pred, target, match):
    with pytest.raises(ValueError, match=match):
        compute_metrics(pred, target)


def test_unknown_fit_raises():
    with pytest.raises(ValueError, match="unknown fit"):
        compute_metrics([1, 2, 3], [1, 2, 3], fit="cubic")


def test_logistic4_fit_recovers_a_saturating_relation():
    p = np.linspace(-1, 1, 60)
    t = logistic4(p, 90.0, 10.0, 0.2, 0.15)  # human scores saturate at both ends
    raw = compute_metrics(p, t)
    fitted = compute_metrics(p, t, fit="logistic4")
    assert raw["srcc"] == pytest.approx(1.0) and fitted["srcc"] == pytest.approx(1.0)
    assert raw["plcc"] < 0.95
    assert fitted["plcc"] == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(fit_logistic4(p, t), t, atol=1e-3)
    assert fitted["rmse"] < 1e-3 < raw["rmse"]


def test_direction_flip_for_opposite_predictions():
    dmos = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    quality = -dmos + 0.01 * np.arange(5) ** 2
    same = compute_metrics(quality, dmos)
    flipped = compute_metrics(quality, dmos, pred_higher_better=True, higher_better=False)
    assert same["srcc"] == pytest.approx(-1.0) and flipped["srcc"] == pytest.approx(1.0)


def test_summarize_median_mean_std_and_nan_count():
    rows = [
        {"srcc": 0.5, "plcc": 0.4, "krcc": 0.3, "rmse": 1.0},
        {"srcc": 0.7, "plcc": 0.6, "krcc": 0.5, "rmse": 2.0},
        {"srcc": 0.9, "plcc": float("nan"), "krcc": 0.7, "rmse": 3.0},
    ]
    s = summarize(rows)
    assert s["srcc"]["median"] == pytest.approx(0.7)
    assert s["srcc"]["mean"] == pytest.approx(0.7)
    assert s["srcc"]["std"] == pytest.approx(np.std([0.5, 0.7, 0.9]))
    assert s["plcc"]["median"] == pytest.approx(0.5) and s["plcc"]["n_nan"] == 1
    assert s["rmse"]["n"] == 3
    assert math.isnan(summarize([{"srcc": float("nan")}])["srcc"]["median"])
