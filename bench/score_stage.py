"""Pipeline stage ``score``: score a folder (or the run's shards) with the run's scorer.

Writes ``scores.csv`` (``path,score,error``, one row per input) and ``best_worst.png``: the
``k`` best and ``k`` worst images with their scores (best by the scorer's own direction).
The scorer is the latest earlier ``finetune`` stage unless ``scorer`` names a folder or
``stage:NAME``; the inputs are ``paths`` or, when empty, the earlier ``shard`` stage's shards
(the curated corpus).

Example ``pipelines.toml`` table::

    [[pipeline.default.stage]]
    kind = "score"
    paths = ["~/photos"]        # default: the shards of the run
    k = 6
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

THUMB = 256


class ScoreParams(BaseModel):
    """Parameters of the ``score`` stage."""

    model_config = ConfigDict(extra="forbid")

    scorer: str | None = Field(
        None, description="scorer folder or 'stage:NAME'; default: the finetune stage's folder"
    )
    paths: list[str] = Field(
        [], description="files, folders or .tar shards; default: the shard stage's shards"
    )
    k: int = Field(6, ge=1, le=50, description="best and worst images on the contact sheet")
    batch_size: int = Field(32, ge=1)
    workers: int = Field(2, ge=1)
    device: str = Field("cpu", description="'cpu', 'cuda', 'cuda:1' or 'auto'")


def _thumbnail(item: Any) -> Any:
    """``(h, w, 3)`` uint8 of an input, at most ``THUMB`` px on a side; None if unreadable."""
    import tarfile

    from qpt_base.images import UnreadableImage, decode_rgb

    try:
        if item.member is None:
            return decode_rgb(item.path, max_side=THUMB)
        with tarfile.open(item.path) as tar:
            handle = tar.extractfile(item.member)
            return decode_rgb(handle.read(), max_side=THUMB) if handle else None
    except (UnreadableImage, OSError, tarfile.TarError):
        return None


def contact_sheet(inputs: list, rows: list, out: Path, k: int, higher_better: bool) -> None:
    """A PNG: the ``k`` best inputs on the top row, the ``k`` worst below, with scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = [(r.score, i) for i, r in enumerate(rows) if r.score is not None]
    scored.sort(reverse=higher_better)
    k = min(k, max(1, len(scored) // 2))
    picks = {"best": scored[:k], "worst": scored[-k:][::-1]}
    fig, axes = plt.subplots(2, k, figsize=(2.2 * k, 5.0), squeeze=False)
    for row_axes, (label, chosen) in zip(axes, picks.items(), strict=True):
        for col, ax in enumerate(row_axes):
            ax.set_xticks([])
            ax.set_yticks([])
            if col >= len(chosen):
                ax.set_frame_on(False)
                continue
            score, index = chosen[col]
            thumb = _thumbnail(inputs[index])
            if thumb is not None:
                ax.imshow(thumb)
            ax.set_title(f"{score:.2f}\n{Path(rows[index].path).name[:24]}", fontsize=7)
            if col == 0:
                ax.set_ylabel(label, fontsize=10)
    direction = "higher is better" if higher_better else "lower is better"
    fig.suptitle(f"best and worst of {len(scored)} scored images ({direction})", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def run_score(ctx: Any, params: ScoreParams) -> dict:
    """Score the inputs into ``scores.csv`` and draw ``best_worst.png`` in ``ctx.out_dir``.

    Raises:
        ValueError: no scorer stage or folder, nothing to score, a bad scorer folder.
        FileNotFoundError: a missing input.
    """
    from bench.score_files import list_inputs, score_inputs, write_rows
    from bench.scorer import Scorer
    from qpt_base.device import resolve_device

    if params.scorer is None:
        folder = ctx.input_of("finetune")
    elif params.scorer.startswith("stage:"):
        name = params.scorer.removeprefix("stage:")
        if name not in ctx.inputs:
            raise ValueError(f"score: '{params.scorer}' names no earlier stage")
        folder = ctx.inputs[name]
    else:
        folder = Path(params.scorer).expanduser()
    paths = [str(Path(p).expanduser()) for p in params.paths]
    if not paths:
        paths = [str(p) for p in sorted(ctx.input_of("shard").glob("*.tar"))]
        if not paths:
            raise ValueError(f"score: no .tar shard in {ctx.input_of('shard')} and no paths")
    scorer = Scorer.load(folder, resolve_device(params.device))
    scorer.batch_size = params.batch_size
    inputs = list_inputs(paths)
    rows = list(score_inputs(scorer, inputs, params.workers))
    write_rows(rows, ctx.out_dir / "scores.csv")
    scores = [r.score for r in rows if r.score is not None]
    if scores:
        contact_sheet(inputs, rows, ctx.out_dir / "best_worst.png", params.k, scorer.higher_better)
    return {
        "scorer": str(folder),
        "inputs": len(rows),
        "scored": len(scores),
        "errors": len(rows) - len(scores),
        "mean": round(sum(scores) / len(scores), 4) if scores else None,
        "higher_better": scorer.higher_better,
        "scores": str(ctx.out_dir / "scores.csv"),
        "sheet": str(ctx.out_dir / "best_worst.png") if scores else None,
    }
