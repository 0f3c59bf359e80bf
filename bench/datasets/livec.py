"""LIVE In the Wild Image Quality Challenge (Ghadiyaram & Bovik, 2015).

Official release ``ChallengeDB_release/``: ``Images/`` (1,162 test images, ``.bmp``/``.JPG``),
``Images/trainingImages/t1..t7.bmp``, ``Data/AllImages_release.mat`` (cell array
``AllImages_release``, 1169 x 1), ``Data/AllMOS_release.mat`` (``AllMOS_release``, 1 x 1169,
MOS 0..100, higher is better). The first 7 entries are the subject-training images and are
excluded by convention. No official split: repeated random 80/20 splits.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, check_entries, make_dataset
from bench.datasets.matfile import read_mat
from bench.datasets.registry import register_dataset

NAME = "livec"
SCORE_RANGE = (0.0, 100.0)
N_TRAINING = 7  # t1..t7, shown to subjects before the study


def load_livec(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``ChallengeDB_release`` as released (see the module docstring)."""
    names_file = root / "Data" / "AllImages_release.mat"
    mos_file = root / "Data" / "AllMOS_release.mat"
    names = read_mat(names_file, NAME, {"AllImages_release": "strings"})["AllImages_release"]
    mos = read_mat(mos_file, NAME, {"AllMOS_release": "numbers"})["AllMOS_release"]
    if len(names) != mos.size:
        raise ValueError(
            f"{NAME}: {names_file} lists {len(names)} images but {mos_file} has {mos.size} MOS"
        )
    entries = [
        (name, float(score), root / "Images" / name, None)
        for name, score in zip(names[N_TRAINING:], mos[N_TRAINING:], strict=True)
    ]
    check_entries(NAME, names_file, entries, scores=False)  # names come from one file,
    check_entries(NAME, mos_file, entries, SCORE_RANGE)  # scores from the other
    return make_dataset(NAME, "iqa", "image", SCORE_RANGE, names_file, entries, allow_partial, root)


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="LIVE Challenge",
        task="iqa",
        markers=("Data/AllMOS_release.mat",),
        requires=("Data/AllImages_release.mat", "Images"),
        layout="""
ChallengeDB_release/
  Images/*.bmp|*.JPG            (1,162 test images)
  Images/trainingImages/t1..t7.bmp
  Data/AllImages_release.mat    (AllImages_release: image names, first 7 = training images)
  Data/AllMOS_release.mat       (AllMOS_release: MOS 0..100, higher is better)
""",
        load=load_livec,
        source="https://live.ece.utexas.edu/research/ChallengeDB/index.html",
    )
)
