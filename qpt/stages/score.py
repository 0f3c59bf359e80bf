"""Stage ``score``: score a folder (or the run's shards) with the run's scorer.

Writes ``scores.csv`` (``path,score,error``, one row per input) and ``best_worst.png``: the
``k`` best and ``k`` worst images with their scores (best by the scorer's own direction).
The scorer is the latest earlier ``finetune`` stage unless ``scorer`` names a folder or
``stage:NAME``; the inputs are ``paths`` or, when empty, the earlier ``shard`` stage's shards
(the curated corpus).

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "score"
    paths = ["~/photos"]        # default: the shards of the run
    k = 6
"""

from __future__ import annotations

from pathlib import Path

from bench.score_stage import ScoreParams
from qpt.stage import StageContext

__all__ = ["ScoreParams", "run_score"]


def _scorer_folder(ctx: StageContext, scorer: str | None) -> Path:
    """``scorer`` as a folder: the finetune stage's by default, ``stage:NAME``'s, or a path."""
    if scorer is None:
        return ctx.input_of("finetune")
    if scorer.startswith("stage:"):
        name = scorer.removeprefix("stage:")
        if name not in ctx.inputs:
            raise ValueError(f"score: '{scorer}' names no earlier stage")
        return ctx.inputs[name]
    return Path(scorer).expanduser()


def _inputs(ctx: StageContext, paths: list[str]) -> list[str]:
    """``paths`` expanded, or the shard stage's ``.tar`` files when there are none."""
    if paths:
        return [str(Path(p).expanduser()) for p in paths]
    shards = [str(p) for p in sorted(ctx.input_of("shard").glob("*.tar"))]
    if not shards:
        raise ValueError(f"score: no .tar shard in {ctx.input_of('shard')} and no paths")
    return shards


def run_score(ctx: StageContext, params: ScoreParams) -> dict:
    """``scores.csv`` and ``best_worst.png`` in the stage folder.

    Raises:
        ValueError: no scorer stage or folder, nothing to score, a bad scorer folder.
        FileNotFoundError: a missing input.
    """
    from bench.score_stage import save_scores, score_paths

    folder = _scorer_folder(ctx, params.scorer)
    paths = _inputs(ctx, params.paths)
    scored = score_paths(
        folder, paths, batch_size=params.batch_size, workers=params.workers, device=params.device
    )
    return {"scorer": str(folder), **save_scores(scored, ctx.out_dir, params.k)}
