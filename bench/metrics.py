"""Agreement between predicted and human scores: SRCC, PLCC, KRCC, RMSE.

Conventions (the usual ones of the IQA/VQA/IAA literature):

* SRCC (Spearman), KRCC (Kendall tau-b, ties handled) and PLCC (Pearson) come from
  :mod:`scipy.stats`; RMSE is in the units of the human scores.
* PLCC is computed on the raw predictions by default. ``fit="logistic4"`` first maps the
  predictions through the 4-parameter logistic of the VQEG protocol
  ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2`` fitted on the same pairs; the result
  is labelled ``fit: logistic4`` in reports because it is not comparable with raw PLCC.
* Direction: heads are trained on the raw targets, so their predictions share the target's
  direction and correlations come out positive when they agree. When a prediction has the
  opposite direction (a "higher is better" quality score against a DMOS or a degradation
  level), pass ``pred_higher_better`` and ``higher_better``: the prediction is negated first.

NaN policy:

* Bad input is a user error: different lengths, fewer than 3 pairs, or any NaN/inf in
  predictions or targets raise ``ValueError``.
* A constant prediction (or constant target) makes every correlation undefined: SRCC, PLCC and
  KRCC are returned as ``nan`` (never 0, which would read as "no agreement measured"), RMSE is
  still defined. Aggregation over splits (:func:`summarize`) ignores NaN splits and reports how
  many there were in ``n_nan``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import optimize, stats

METRICS = ("srcc", "plcc", "krcc", "rmse")


def _check(pred: Sequence[float] | np.ndarray, target: Sequence[float] | np.ndarray):
    p = np.asarray(pred, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise ValueError(f"metrics: {p.size} predictions for {t.size} targets")
    if p.size < 3:
        raise ValueError(f"metrics: need at least 3 pairs to correlate, got {p.size}")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise ValueError("metrics: predictions and targets must be finite (found NaN or inf)")
    return p, t


def _constant(x: np.ndarray) -> bool:
    return bool(np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())))


def logistic4(x: np.ndarray, b1: float, b2: float, b3: float, b4: float) -> np.ndarray:
    """The VQEG 4-parameter logistic ``(b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``."""
    z = np.clip(-(x - b3) / (abs(b4) + 1e-12), -60.0, 60.0)
    return (b1 - b2) / (1.0 + np.exp(z)) + b2


def _linear_map(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    slope, intercept = np.polyfit(p, t, 1)
    return slope * p + intercept


def fit_logistic4(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Map ``pred`` to the target scale with a least-squares 4-parameter logistic.

    Falls back to a least-squares line when the fit does not converge or there are fewer than
    5 pairs (a line preserves the raw PLCC, so the result is never better than it should be).
    """
    p, t = _check(pred, target)
    if p.size < 5:  # 4 parameters need more points than that to mean anything
        return _linear_map(p, t)
    best, best_sse = None, np.inf
    scale = float(np.std(p)) or 1.0
    # several slopes: the fit has local minima; the start of b3 is the median (a start at a
    # value like 1e-17 would make MINPACK's relative finite-difference step vanish)
    for b4 in (scale / 4, scale, 4 * scale):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = optimize.curve_fit(
                    logistic4, p, t, p0=[t.max(), t.min(), float(np.median(p)), b4], maxfev=10000
                )
        except RuntimeError:
            continue
        sse = float(np.sum((logistic4(p, *params) - t) ** 2))
        if sse < best_sse:
            best, best_sse = params, sse
    return _linear_map(p, t) if best is None else logistic4(p, *best)


def compute_metrics(
    pred: Sequence[float] | np.ndarray,
    target: Sequence[float] | np.ndarray,
    *,
    fit: str = "none",
    pred_higher_better: bool | None = None,
    higher_better: bool = True,
) -> dict[str, float]:
    """SRCC, PLCC, KRCC and RMSE between predictions and human scores.

    Args:
        pred: (N,) predicted scores.
        target: (N,) human scores, in the dataset's own units and direction.
        fit: ``"none"`` (raw PLCC/RMSE) or ``"logistic4"`` (VQEG mapping before PLCC/RMSE).
        pred_higher_better: direction of ``pred`` when it differs from the target's (e.g. a
            "quality" prediction against a DMOS target); ``None`` means same direction.
        higher_better: direction of ``target``.

    Returns:
        ``{"srcc", "plcc", "krcc", "rmse"}``; correlations are ``nan`` when either side is
        constant (see the module's NaN policy).

    Raises:
        ValueError: length mismatch, fewer than 3 pairs, or non-finite values.

    Example:
        >>> m = compute_metrics([1, 2, 3, 4], [10, 20, 30, 50])
        >>> round(m["srcc"], 3), round(m["krcc"], 3)
        (1.0, 1.0)
    """
    if fit not in ("none", "logistic4"):
        raise ValueError(f"metrics: unknown fit '{fit}' (use 'none' or 'logistic4')")
    p, t = _check(pred, target)
    if pred_higher_better is not None and pred_higher_better != higher_better:
        p = -p
    if fit == "logistic4" and not _constant(p):
        p = fit_logistic4(p, t)
    rmse = float(np.sqrt(np.mean((p - t) ** 2)))
    if _constant(p) or _constant(t):
        return {"srcc": math.nan, "plcc": math.nan, "krcc": math.nan, "rmse": rmse}
    return {
        "srcc": float(stats.spearmanr(p, t).statistic),
        "plcc": float(stats.pearsonr(p, t).statistic),
        "krcc": float(stats.kendalltau(p, t).statistic),
        "rmse": rmse,
    }


def summarize(per_split: Iterable[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Median, mean and std (population) of each metric over splits, ignoring NaN splits.

    Returns:
        ``{metric: {"median", "mean", "std", "n", "n_nan"}}``; all ``nan`` when every split
        was NaN for that metric.
    """
    rows = list(per_split)
    out: dict[str, dict[str, float]] = {}
    for name in METRICS:
        values = np.array([r[name] for r in rows if name in r], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            stats_ = {
                "median": float(np.median(finite)),
                "mean": float(np.mean(finite)),
                "std": float(np.std(finite)),
            }
        else:
            stats_ = {"median": math.nan, "mean": math.nan, "std": math.nan}
        out[name] = {**stats_, "n": int(values.size), "n_nan": int(values.size - finite.size)}
    return out
