"""LIVE-VQC (Sinno & Bovik, 2018): 585 smartphone videos, MOS 0..100 (higher is better).

Official release: ``data.mat`` with ``video_list`` (cell array of names such as ``A001.mp4``)
and ``mos`` (same order), and the videos in ``Video/``. No official split: random 80/20 splits.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.matfile import read_mat
from bench.datasets.registry import register_dataset

NAME = "livevqc"
SCORE_FILE = "data.mat"


def load_livevqc(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``data.mat`` (``video_list``, ``mos``) and ``Video/``."""
    score_file = root / SCORE_FILE
    data = read_mat(score_file, NAME, {"video_list": "strings", "mos": "numbers"})
    names, mos = data["video_list"], data["mos"]
    if len(names) != mos.size:
        raise ValueError(f"{NAME}: {score_file}: {len(names)} videos but {mos.size} MOS")
    entries = [
        (name, float(m), root / "Video" / name, None) for name, m in zip(names, mos, strict=True)
    ]
    return make_dataset(
        NAME, "vqa", "video", (0.0, 100.0), score_file, entries, allow_partial, root
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="LIVE-VQC",
        task="vqa",
        markers=(SCORE_FILE,),
        requires=("Video",),
        layout=f"""
LIVE-VQC/
  {SCORE_FILE}  (video_list: names, mos: 0..100)
  Video/A001.mp4 ...
""",
        load=load_livevqc,
        source="https://live.ece.utexas.edu/research/LIVEVQC/index.html",
    )
)
