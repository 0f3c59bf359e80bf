"""KoNViD-1k (Hosu et al., QoMEX 2017): 1,200 Flickr videos, MOS 1..5 (higher is better).

Official release: ``KoNViD_1k_attributes.csv`` (columns include ``flickr_id`` and ``MOS``) and
``KoNViD_1k_videos/<flickr_id>.mp4``. No official split: random 80/20 splits.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "konvid"
SCORE_FILE = "KoNViD_1k_attributes.csv"
VIDEO_DIR = "KoNViD_1k_videos"


def load_konvid(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the attributes CSV and the mp4 folder."""
    score_file = root / SCORE_FILE
    rows = read_csv(score_file, NAME, ("flickr_id", "MOS"))
    entries = [
        (
            r["flickr_id"],
            to_float(r["MOS"], f"{NAME}: {score_file}"),
            root / VIDEO_DIR / f"{r['flickr_id']}.mp4",
            None,
        )
        for r in rows
    ]
    return make_dataset(NAME, "vqa", "video", (1.0, 5.0), score_file, entries, allow_partial, root)


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="KoNViD-1k",
        task="vqa",
        markers=(SCORE_FILE,),
        layout=f"""
KoNViD_1k/
  {SCORE_FILE}  (flickr_id,...,MOS,...)
  {VIDEO_DIR}/<flickr_id>.mp4
""",
        load=load_konvid,
        source="https://database.mmsp-kn.de/konvid-1k-database.html",
    )
)
