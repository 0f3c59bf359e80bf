"""What a person looks at after curation: a summary table and two PNGs.

* ``report.png``: histograms of short side, richness and CLIP score (kept vs rejected) and
  the rejection counts per reason;
* ``rejections.png``: a contact sheet, one row per rejection reason, a few examples each
  (files that cannot be decoded show as a labelled grey tile).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from rich.table import Table

from curate.readback import read_original
from curate.sources.tario import TarReader
from qpt_base.images import decode_rgb

THUMB = 96


def summary_table(summary: dict, title: str = "curate") -> Table:
    """The end-of-run table: candidates, kept, rejected per reason, throughput."""
    table = Table(title=title)
    table.add_column("what")
    table.add_column("value", justify="right")
    for name, value in summary.items():
        if isinstance(value, (int, float, str)):
            table.add_row(name, str(value))
        elif isinstance(value, list) and value:
            table.add_row(name, "\n".join(map(str, value)))
    return table


def write_report(records: list[dict], out_dir: Path, examples_per_reason: int = 6) -> list[Path]:
    """Write ``report.png`` and (when anything was rejected) ``rejections.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = [out_dir / "report.png"]
    kept = [r for r in records if not r["reason"]]
    rejected = [r for r in records if r["reason"]]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    panels = (
        (axes[0, 0], "short side (px)", lambda r: min(r["width"] or 0, r["height"] or 0) or None),
        (axes[0, 1], "richness (objects per image)", lambda r: r["richness"]),
        (axes[1, 0], "CLIP score (best positive prompt)", lambda r: r["clip_score"]),
    )
    for ax, label, get in panels:
        values = [[v for r in rows if (v := get(r)) is not None] for rows in (kept, rejected)]
        if any(values):
            ax.hist(values, bins=30, stacked=True, label=["kept", "rejected"])
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(label)
    counts = Counter(r["reason"] for r in rejected)
    ax = axes[1, 1]
    names = sorted(counts, key=counts.get)
    ax.barh(names, [counts[n] for n in names])
    ax.set_xlabel(f"rejected ({len(rejected)} of {len(records)}; kept {len(kept)})")
    fig.tight_layout()
    fig.savefig(written[0], dpi=80)
    plt.close(fig)
    if counts and examples_per_reason:
        written.append(out_dir / "rejections.png")
        _contact_sheet(rejected, sorted(counts), examples_per_reason, written[1])
    return written


def _thumbnail(row: dict, tars: TarReader) -> np.ndarray | None:
    try:
        data = read_original(row["uri"], row["member"], tars)
        return decode_rgb(data, max_side=THUMB)
    except (OSError, ValueError):
        return None


def _contact_sheet(rejected: list[dict], reasons: list[str], k: int, out: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(reasons), k, figsize=(1.6 * k, 1.7 * len(reasons)), squeeze=False)
    with TarReader() as tars:
        for row_axes, reason in zip(axes, reasons, strict=True):
            examples = [r for r in rejected if r["reason"] == reason][:k]
            for col, ax in enumerate(row_axes):
                ax.set_xticks([])
                ax.set_yticks([])
                if col == 0:
                    ax.set_ylabel(reason, fontsize=7)
                if col >= len(examples):
                    ax.set_frame_on(False)
                    continue
                row = examples[col]
                image = None
                if row["reason"] not in ("decompression_bomb", "low_similarity", "not_fetched"):
                    image = _thumbnail(row, tars)
                if image is None:
                    ax.imshow(np.full((THUMB, THUMB, 3), 200, np.uint8))
                    ax.text(THUMB / 2, THUMB / 2, "no image", ha="center", va="center", fontsize=6)
                else:
                    ax.imshow(image)
                ax.set_title(row["key"][:18], fontsize=5)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
