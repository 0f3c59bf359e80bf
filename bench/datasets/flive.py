"""FLIVE / PaQ-2-PiQ (Ying et al., CVPR 2020): ~40k in-the-wild images, MOS (higher is better).

Official release (``database/`` of the PaQ-2-PiQ repository): ``labels_image.csv`` with
columns ``name`` (path relative to the image folder, e.g. ``AVA__149.jpg`` or
``blur_dataset/...``) and ``mos``; images under ``database/`` beside it or in the same folder.
The patch labels (``labels_patch.csv``) are not used. Random 80/20 splits (the published
train/val/test lists are not part of the image release).
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "flive"
SCORE_FILE = "labels_image.csv"


def load_flive(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``labels_image.csv`` and its images (``database/<name>`` or ``<name>``)."""
    score_file = root / SCORE_FILE
    rows = read_csv(score_file, NAME, ("name", "mos"))
    image_root = root
    if rows and not (root / rows[0]["name"]).is_file() and (root / "database").is_dir():
        image_root = root / "database"
    entries = [
        (r["name"], to_float(r["mos"], f"{NAME}: {score_file}"), image_root / r["name"], None)
        for r in rows
    ]
    return make_dataset(
        NAME, "iqa", "image", (0.0, 100.0), score_file, entries, allow_partial, root
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="FLIVE (PaQ-2-PiQ)",
        task="iqa",
        markers=(SCORE_FILE,),
        layout=f"""
FLIVE/
  {SCORE_FILE}  (name,mos,...)
  database/<name>  (or <name> beside the CSV)
""",
        load=load_flive,
        source="https://github.com/baidut/PaQ-2-PiQ",
    )
)
