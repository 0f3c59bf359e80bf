"""AADB (Kong et al., ECCV 2016): 10k photos with an overall aesthetic score in 0..1.

Official release: ``imgListFiles_label/imgListTrainRegression_score.txt``,
``imgListValidationRegression_score.txt`` and ``imgListTestNewRegression_score.txt`` (lines
``<file name> <score>``); images in ``datasetImages_originalSize/`` (the new test images may
also be in ``AADB_newtest_originalSize/``). Official split: train on the training list, score
on the (new) test list; the validation list is not used.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, check_entries, make_dataset
from bench.datasets.files import read_lines, to_float
from bench.datasets.registry import register_dataset

NAME = "aadb"
LABELS = "imgListFiles_label"
TRAIN_LIST = f"{LABELS}/imgListTrainRegression_score.txt"
TEST_LIST = f"{LABELS}/imgListTestNewRegression_score.txt"
IMAGE_DIRS = ("datasetImages_originalSize", "AADB_newtest_originalSize")
SCORE_RANGE = (0.0, 1.0)


def _find_image(root: Path, name: str) -> Path:
    for folder in IMAGE_DIRS:
        if (root / folder / name).is_file():
            return root / folder / name
    return root / IMAGE_DIRS[0] / name


def load_aadb(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the training and new-test regression lists with their images."""
    entries, parts, files = [], {}, []
    for part, rel in (("train", TRAIN_LIST), ("test", TEST_LIST)):
        path = root / rel
        found = []
        for n, fields in enumerate(read_lines(path, NAME), start=1):
            if len(fields) != 2:
                raise ValueError(f"{NAME}: {path} line {n}: expected '<name> <score>'")
            score = to_float(fields[1], f"{NAME}: {path} line {n}")
            found.append((fields[0], score, _find_image(root, fields[0]), None))
        check_entries(NAME, path, found, SCORE_RANGE)
        entries += found
        parts[part] = {e[0] for e in found}
        files.append(path)
    return make_dataset(
        NAME, "iaa", "image", SCORE_RANGE, tuple(files), entries, allow_partial, root, parts
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="AADB",
        task="iaa",
        markers=(TEST_LIST,),
        requires=(TRAIN_LIST,),
        layout=f"""
AADB/
  {TRAIN_LIST}  (<name> <score 0..1>)
  {TEST_LIST}
  datasetImages_originalSize/<name>  (new test images may be in AADB_newtest_originalSize/)
""",
        load=load_aadb,
        protocol="official",
        source="https://github.com/aimerykong/deepImageAestheticsAnalysis",
    )
)
