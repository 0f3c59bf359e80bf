"""Pipeline stage ``corpus``: materialise the built-in corpus and show what is in it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from curate.sources.builtin import corpus_index, materialize

if TYPE_CHECKING:  # the runner's contract; no runtime dependency on the CLI package
    from qpt.stage import StageContext


class CorpusParams(BaseModel):
    """Parameters of the ``corpus`` stage.

    Attributes:
        seed: corpus seed; ``None`` takes the run's seed.
        sheet: also write ``corpus.png``, one example of every kind of file.
    """

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    sheet: bool = True


def run_corpus(ctx: StageContext, params: CorpusParams) -> dict:
    """Write ``ctx.out_dir/images`` (the corpus) and return counts per kind of file."""
    seed = ctx.seed if params.seed is None else params.seed
    root = materialize(ctx.out_dir / "images", seed=seed)
    index = corpus_index(root)
    kinds = Counter(e["kind"] for e in index)
    if params.sheet:
        _contact_sheet(root, index, ctx.out_dir / "corpus.png")
    return {
        "files": len(index),
        "photos": len({e["photo"] for e in index}),
        **{f"kind.{k}": v for k, v in sorted(kinds.items())},
        "path": str(root),
    }


def _contact_sheet(root: Path, index: list[dict], out: Path) -> None:
    """A PNG with one thumbnail per kind of file (broken files shown as a label)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    examples: dict[str, dict] = {}
    for entry in index:
        examples.setdefault(entry["kind"], entry)
    fig, axes = plt.subplots(1, len(examples), figsize=(3 * len(examples), 3.3))
    for ax, (kind, entry) in zip(axes, sorted(examples.items()), strict=True):
        ax.set_axis_off()
        ax.set_title(f"{kind}\n{Path(entry['path']).name}", fontsize=8)
        try:
            with Image.open(root / entry["path"]) as im:
                ax.imshow(im.convert("RGB"))
        except OSError as exc:
            ax.text(0.5, 0.5, f"unreadable:\n{type(exc).__name__}", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
