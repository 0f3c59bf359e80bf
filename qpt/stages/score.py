"""Stage ``score``: score the run's shards (or paths) with the run's scorer."""

from __future__ import annotations

from bench.score_stage import ScoreParams
from qpt.stage import StageContext

__all__ = ["ScoreParams", "run_score"]


def run_score(ctx: StageContext, params: ScoreParams) -> dict:
    """``scores.csv`` and ``best_worst.png`` in the stage folder."""
    from bench.score_stage import run_score as score

    return score(ctx, params)
