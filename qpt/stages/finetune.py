"""Stage ``finetune``: fit a scorer into the stage folder (the folder is the scorer)."""

from __future__ import annotations

from bench.fit_stage import FinetuneParams
from qpt.stage import StageContext

__all__ = ["FinetuneParams", "run_finetune"]


def run_finetune(ctx: StageContext, params: FinetuneParams) -> dict:
    """Fit on ``params.dataset`` from the pretrain stage's export (or ``checkpoint``)."""
    from bench.fit_stage import run_finetune as fit

    return fit(ctx, params)
