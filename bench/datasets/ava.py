"""AVA (Murray et al., CVPR 2012): ~255k photos from DPChallenge with 1..10 vote counts.

Official release ``AVA_dataset/``: ``AVA.txt`` (space separated: index, image id, counts of
votes for scores 1..10, semantic tag 1, semantic tag 2, challenge id), ``images/<id>.jpg`` and
``aesthetics_image_lists/generic_test.jpgl`` (one image id per line: the standard ~20k test
set). The label is the mean vote ``sum(k * n_k) / sum(n_k)``; the head trains on every other
image.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_lines, require
from bench.datasets.registry import register_dataset

NAME = "ava"
SCORE_FILE = "AVA.txt"
TEST_LIST = "aesthetics_image_lists/generic_test.jpgl"


def load_ava(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``AVA.txt`` (mean of the vote histogram) and the official test list."""
    score_file = root / SCORE_FILE
    test_file = require(root / TEST_LIST, NAME)
    entries = []
    for n, fields in enumerate(read_lines(score_file, NAME), start=1):
        if len(fields) < 12:
            raise ValueError(f"{NAME}: {score_file} line {n} has {len(fields)} fields, expected 15")
        try:
            counts = [int(c) for c in fields[2:12]]
        except ValueError:
            raise ValueError(
                f"{NAME}: {score_file} line {n}: vote counts are not integers"
            ) from None
        total = sum(counts)
        if total <= 0:
            raise ValueError(f"{NAME}: {score_file} line {n}: image {fields[1]} has no vote")
        mean = sum((k + 1) * c for k, c in enumerate(counts)) / total
        entries.append((fields[1], mean, root / "images" / f"{fields[1]}.jpg", None))
    test_ids = {fields[0] for fields in read_lines(test_file, NAME)}
    parts = {"train": {e[0] for e in entries} - test_ids, "test": test_ids}
    return make_dataset(
        NAME, "iaa", "image", (1.0, 10.0), score_file, entries, allow_partial, root, parts
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="AVA",
        task="iaa",
        markers=(SCORE_FILE,),
        layout=f"""
AVA_dataset/
  {SCORE_FILE}  (index, image id, votes for 1..10, tag1, tag2, challenge id)
  images/<image id>.jpg
  {TEST_LIST}  (official test image ids)
""",
        load=load_ava,
        protocol="official",
        source="https://github.com/mtobeiyf/ava_downloader",
    )
)
