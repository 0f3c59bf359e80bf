"""Score files, folders or shards with a scorer folder (``qpt score``, stage ``score``).

:func:`score_paths` scores the inputs (one row per input: path, score, error);
:func:`save_scores` writes ``scores.csv`` (``path,score,error``) and ``best_worst.png``: the
``k`` best and ``k`` worst images with their scores (best by the scorer's own direction).
The verb and the pipeline stage (:mod:`qpt.stages.score`) both call them.

``json_schema_extra={"cli": ...}`` names a field's command-line flag where it is not the
field name in kebab case.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

THUMB = 256


class ScoreParams(BaseModel):
    """Parameters of the ``score`` stage and of ``qpt score``."""

    model_config = ConfigDict(extra="forbid")

    scorer: str | None = Field(
        None,
        description="The scorer folder (in a pipeline also stage:NAME; default there: the "
        "finetune stage's folder).",
        json_schema_extra={"cli": ["--model", "-m"]},
    )
    paths: list[str] = Field(
        [],
        description="Files, folders or .tar shards (in a pipeline, default: the shard stage's "
        "shards).",
    )
    k: int = Field(
        6, ge=1, le=50, description="Best and worst images on the contact sheet (stage only)."
    )
    batch_size: int = Field(32, ge=1, description="Views per forward pass.")
    workers: int = Field(2, ge=1, description="Decoding threads.")
    device: str = Field("cpu", description="cpu, cuda, cuda:N or auto.")


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


@dataclass
class Scored:
    """The rows of a scoring run, with the inputs and the scorer that made them."""

    scorer: Any  # bench.scorer.Scorer (imported lazily: torch)
    inputs: list
    rows: list

    @property
    def scores(self) -> list[float]:
        """The scores of the readable inputs, in input order."""
        return [r.score for r in self.rows if r.score is not None]


def score_paths(
    folder: Path,
    paths: Sequence[str],
    *,
    batch_size: int = 32,
    workers: int = 2,
    device: str = "cpu",
    on_start: Callable[[int], None] | None = None,
    advance: Callable[[int], None] | None = None,
) -> Scored:
    """Score every image and video under ``paths`` with the scorer folder ``folder``.

    ``on_start(n)`` is called with the number of inputs found, ``advance(k)`` as inputs
    finish (a progress bar's hooks).

    Raises:
        ValueError: nothing to score, a bad scorer folder.
        FileNotFoundError: a missing input or scorer.
    """
    from bench.score_files import list_inputs, score_inputs
    from bench.scorer import Scorer
    from qpt_base.device import resolve_device

    scorer = Scorer.load(folder, resolve_device(device))
    scorer.batch_size = batch_size
    inputs = list_inputs(list(paths))
    if on_start is not None:
        on_start(len(inputs))
    rows = list(score_inputs(scorer, inputs, workers, advance))
    return Scored(scorer, inputs, rows)


def save_scores(scored: Scored, out_dir: Path, k: int) -> dict:
    """``scores.csv`` and (when anything scored) ``best_worst.png`` in ``out_dir``; a summary."""
    from bench.score_files import write_rows

    write_rows(scored.rows, out_dir / "scores.csv")
    scores = scored.scores
    higher_better = scored.scorer.higher_better
    if scores:
        contact_sheet(scored.inputs, scored.rows, out_dir / "best_worst.png", k, higher_better)
    return {
        "inputs": len(scored.rows),
        "scored": len(scores),
        "errors": len(scored.rows) - len(scores),
        "mean": round(sum(scores) / len(scores), 4) if scores else None,
        "higher_better": higher_better,
        "scores": str(out_dir / "scores.csv"),
        "sheet": str(out_dir / "best_worst.png") if scores else None,
    }
