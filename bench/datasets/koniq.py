"""KonIQ-10k (Hosu et al., 2020): 10,073 in-the-wild images, MOS (higher is better).

Official release: ``1024x768/`` (or the downscaled ``512x384/``) with ``<image_name>.jpg`` and
one of two score files, each read on its own scale:

* ``koniq10k_distributions_sets.csv``: ``image_name, c1..c5, c_total, MOS, SD, set``; ``c1..c5``
  are vote fractions, ``MOS`` is on the rescaled **0..100** scale and ``set`` in
  ``training``/``validation``/``test`` is the official split (used). The head trains on
  ``training`` and is scored on ``test``; ``validation`` is left out as in the paper.
* ``koniq10k_scores_and_distributions.csv``: ``image_name, c1..c5, c_total, MOS, SD,
  MOS_zscore``; ``c1..c5`` are vote counts, ``MOS`` is the mean vote on **1..5** (read here;
  ``MOS_zscore`` is the 0..100 rescale). No split column: random 80/20 splits.

The dataset's ``score_range`` is the scale of the file that was read.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset, pick_folder, short
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "koniq"
SETS_FILE = "koniq10k_distributions_sets.csv"
SCORES_FILE = "koniq10k_scores_and_distributions.csv"
IMAGE_DIRS = ("1024x768", "512x384")
#: The scale of the ``MOS`` column in each official score file.
SCALES = {SETS_FILE: (0.0, 100.0), SCORES_FILE: (1.0, 5.0)}


def load_koniq(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the KonIQ-10k release (full-size images preferred), on its score file's scale."""
    with_sets = (root / SETS_FILE).is_file()
    score_file = root / (SETS_FILE if with_sets else SCORES_FILE)
    columns = ("image_name", "MOS") + (("set",) if with_sets else ())
    rows = read_csv(score_file, NAME, columns)
    image_dir = pick_folder(NAME, score_file, root, IMAGE_DIRS, [r["image_name"] for r in rows])
    entries = [
        (
            r["image_name"],
            to_float(r["MOS"], f"{NAME}: {score_file}"),
            image_dir / r["image_name"],
            None,
        )
        for r in rows
    ]
    parts = None
    if with_sets:
        sets = {r["image_name"]: r["set"].lower() for r in rows}
        unknown = sorted(set(sets.values()) - {"training", "validation", "test"})
        if unknown:
            names = ", ".join(short(u, 30) for u in unknown[:5])
            raise ValueError(f"{NAME}: {score_file}: unknown set names {names}")
        parts = {
            "train": {k for k, v in sets.items() if v == "training"},
            "test": {k for k, v in sets.items() if v == "test"},
        }
    return make_dataset(
        NAME, "iqa", "image", SCALES[score_file.name], score_file, entries, allow_partial, root,
        parts,
    )  # fmt: skip


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="KonIQ-10k",
        task="iqa",
        markers=(SETS_FILE, SCORES_FILE),
        layout=f"""
koniq10k/
  1024x768/<image_name>.jpg  (or 512x384/)
  {SETS_FILE}
      (image_name,c1..c5,c_total,MOS,SD,set; MOS on 0..100; official training/test split)
  or {SCORES_FILE}
      (image_name,c1..c5,c_total,MOS,SD,MOS_zscore; MOS on 1..5; random 80/20 splits)
""",
        load=load_koniq,
        protocol="official",
        source="https://database.mmsp-kn.de/koniq-10k-database.html",
    )
)
