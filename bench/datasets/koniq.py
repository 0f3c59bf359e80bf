"""KonIQ-10k (Hosu et al., 2020): 10,073 in-the-wild images, MOS 1..5 (higher is better).

Official release: ``1024x768/`` (or the downscaled ``512x384/``) with ``<image_name>.jpg`` and
a score file: ``koniq10k_distributions_sets.csv`` (``image_name, c1..c5, c_total, MOS, SD,
set`` with ``set`` in ``training``/``validation``/``test``: the official split, used when
present) or ``koniq10k_scores_and_distributions.csv`` (``image_name, ..., MOS, SD,
MOS_zscore``, no split: random 80/20 splits). The head trains on ``training`` and is scored on
``test``; ``validation`` is left out as in the paper's protocol.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "koniq"
SETS_FILE = "koniq10k_distributions_sets.csv"
SCORES_FILE = "koniq10k_scores_and_distributions.csv"
IMAGE_DIRS = ("1024x768", "512x384")


def load_koniq(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the KonIQ-10k release (full-size images preferred)."""
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), None)
    if image_dir is None:
        raise FileNotFoundError(f"{NAME}: no image folder {' or '.join(IMAGE_DIRS)} in {root}")
    with_sets = (root / SETS_FILE).is_file()
    score_file = root / (SETS_FILE if with_sets else SCORES_FILE)
    columns = ("image_name", "MOS") + (("set",) if with_sets else ())
    rows = read_csv(score_file, NAME, columns)
    entries = [
        (r["image_name"], to_float(r["MOS"], f"{score_file}"), image_dir / r["image_name"], None)
        for r in rows
    ]
    parts = None
    if with_sets:
        sets = {r["image_name"]: r["set"].lower() for r in rows}
        unknown = sorted(set(sets.values()) - {"training", "validation", "test"})
        if unknown:
            raise ValueError(f"{NAME}: unknown set names {unknown} in {score_file}")
        parts = {
            "train": {k for k, v in sets.items() if v == "training"},
            "test": {k for k, v in sets.items() if v == "test"},
        }
    return make_dataset(
        NAME, "iqa", "image", (1.0, 5.0), score_file, entries, allow_partial, root, parts
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="KonIQ-10k",
        task="iqa",
        markers=(SETS_FILE, SCORES_FILE),
        layout=f"""
koniq10k/
  1024x768/<image_name>.jpg  (or 512x384/)
  {SETS_FILE}  (image_name,c1..c5,c_total,MOS,SD,set: official training/validation/test)
  or {SCORES_FILE}  (no split column: random 80/20 splits)
""",
        load=load_koniq,
        protocol="official",
        source="https://database.mmsp-kn.de/koniq-10k-database.html",
    )
)
