"""AVA (Murray et al., CVPR 2012): ~255k photos from DPChallenge with 1..10 vote counts.

Official release ``AVA_dataset/``: ``AVA.txt`` (space separated: index, image id, counts of
votes for scores 1..10, semantic tag 1, semantic tag 2, challenge id) and
``aesthetics_image_lists/generic_test.jpgl`` (one image id per line: the standard ~20k test
set). The photos ``<id>.jpg`` are read from whichever of these folders holds them:

* ``images/`` (the release as documented),
* ``images/images/`` (the widely shared archive unpacks its ``images`` folder into one),
* ``image/`` and ``image/images/`` (where the AVA downloader scripts save them).

The label is the mean vote ``sum(k * n_k) / sum(n_k)`` on 1..10; the head trains on every
other image.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset, pick_folder
from bench.datasets.files import read_lines, require
from bench.datasets.registry import register_dataset

NAME = "ava"
SCORE_FILE = "AVA.txt"
TEST_LIST = "aesthetics_image_lists/generic_test.jpgl"
IMAGE_DIRS = ("images", "images/images", "image", "image/images")
N_FIELDS = 15  # index, id, 10 vote counts, 2 tags, challenge


def _mean_vote(fields: list[str], where: str) -> float:
    if len(fields) != N_FIELDS:
        raise ValueError(f"{where} has {len(fields)} fields, expected {N_FIELDS}")
    try:
        counts = [int(c) for c in fields[2:12]]
    except ValueError:
        raise ValueError(f"{where}: vote counts are not integers") from None
    if min(counts) < 0:
        raise ValueError(f"{where}: negative vote count")
    total = sum(counts)
    if total <= 0:
        raise ValueError(f"{where}: image {fields[1]} has no vote")
    return sum((k + 1) * c for k, c in enumerate(counts)) / total


def load_ava(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read ``AVA.txt`` (mean of the vote histogram), the official test list and the photos."""
    score_file = root / SCORE_FILE
    test_file = require(root / TEST_LIST, NAME)
    lines = read_lines(score_file, NAME)
    scores = [
        (fields[1] if len(fields) > 1 else "", _mean_vote(fields, f"{NAME}: {score_file} line {n}"))
        for n, fields in enumerate(lines, start=1)
    ]
    image_dir = pick_folder(NAME, score_file, root, IMAGE_DIRS, [f"{k}.jpg" for k, _ in scores])
    entries = [(key, mean, image_dir / f"{key}.jpg", None) for key, mean in scores]
    test_ids = set()
    for n, fields in enumerate(read_lines(test_file, NAME), start=1):
        if len(fields) != 1:
            raise ValueError(f"{NAME}: {test_file} line {n}: expected one image id")
        test_ids.add(fields[0])
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
  {TEST_LIST}  (official test image ids)
  images/<image id>.jpg
    or images/images/<image id>.jpg  (the widely shared archive)
    or image/<image id>.jpg, image/images/<image id>.jpg  (the AVA downloader scripts)
""",
        load=load_ava,
        protocol="official",
        source="https://github.com/mtobeiyf/ava_downloader",
    )
)
