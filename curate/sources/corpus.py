"""What is in a materialised built-in corpus: counts per kind of file and a contact sheet
(the library side of the ``corpus`` stage)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from curate.sources.builtin import corpus_index


class CorpusParams(BaseModel):
    """Parameters of the ``corpus`` stage."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = Field(None, description="Corpus seed (default: the run's seed).")
    sheet: bool = Field(True, description="Also write corpus.png, one example of every kind.")


def describe_corpus(root: Path, sheet: Path | None = None) -> dict:
    """Counts per kind of file of the corpus at ``root``; writes a contact sheet to ``sheet``."""
    index = corpus_index(root)
    kinds = Counter(e["kind"] for e in index)
    if sheet is not None:
        _contact_sheet(root, index, sheet)
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
