"""KADID-10k (Lin et al., QoMEX 2019): 81 references x 25 distortions x 5 levels.

Official release ``kadid10k/``: ``dmos.csv`` (``dist_img, ref_img, dmos, var``) and
``images/`` holding ``I01.png`` and ``I01_01_01.png`` ... Despite its name the ``dmos`` column
is a mean opinion on a 1..5 scale where 5 means "imperceptible": higher is better. Random
80/20 splits are made by reference image so no content is on both sides.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "kadid"
SCORE_FILE = "dmos.csv"


def load_kadid(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``dmos.csv`` and ``images/`` (grouped by reference image)."""
    score_file = root / SCORE_FILE
    rows = read_csv(score_file, NAME, ("dist_img", "ref_img", "dmos"))
    entries = [
        (
            r["dist_img"],
            to_float(r["dmos"], f"{NAME}: {score_file}"),
            root / "images" / r["dist_img"],
            r["ref_img"],
        )
        for r in rows
    ]
    return make_dataset(NAME, "iqa", "image", (1.0, 5.0), score_file, entries, allow_partial, root)


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="KADID-10k",
        task="iqa",
        markers=(SCORE_FILE,),
        requires=("images",),
        layout=f"""
kadid10k/
  {SCORE_FILE}  (dist_img,ref_img,dmos,var; dmos 1..5, higher is better)
  images/I01.png, I01_01_01.png ...
""",
        load=load_kadid,
        source="https://database.mmsp-kn.de/kadid-10k-database.html",
    )
)
