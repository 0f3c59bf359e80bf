"""LSVQ (Ying et al., CVPR 2021): 39k UGC videos, MOS 0..100 (higher is better).

Official release: ``LSVQ_whole_train.csv``, ``LSVQ_whole_test.csv`` and
``LSVQ_whole_test_1080p.csv`` (columns include ``name`` such as ``ia-batch1/xyz`` and
``mos``) and the videos at ``<name>.mp4`` under the same folder. Two benchmarks share the
training list: ``lsvq`` (scored on the test list) and ``lsvq_1080p`` (on the 1080p test list).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, check_entries, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

TRAIN_CSV = "LSVQ_whole_train.csv"
SCORE_RANGE = (0.0, 100.0)
TEST_CSVS = {"lsvq": "LSVQ_whole_test.csv", "lsvq_1080p": "LSVQ_whole_test_1080p.csv"}


def _video(root: Path, name: str) -> Path:
    return root / (name if name.endswith(".mp4") else f"{name}.mp4")


def load_lsvq(root: Path, allow_partial: bool = False, *, name: str = "lsvq") -> BenchDataset:
    """Read the training list and the test list of benchmark ``name``."""
    entries, parts, files = [], {}, []
    for part, rel in (("train", TRAIN_CSV), ("test", TEST_CSVS[name])):
        path = root / rel
        found = [
            (r["name"], to_float(r["mos"], f"{name}: {path}"), _video(root, r["name"]), None)
            for r in read_csv(path, name, ("name", "mos"))
        ]
        check_entries(name, path, found, SCORE_RANGE)
        entries += found
        parts[part] = {e[0] for e in found}
        files.append(path)
    return make_dataset(
        name, "vqa", "video", SCORE_RANGE, tuple(files), entries, allow_partial, root, parts
    )


for _name, _title in (("lsvq", "LSVQ test"), ("lsvq_1080p", "LSVQ 1080p test")):
    register_dataset(
        DatasetSpec(
            name=_name,
            title=_title,
            task="vqa",
            markers=(TEST_CSVS[_name],),
            requires=(TRAIN_CSV,),
            layout=f"""
LSVQ/
  {TRAIN_CSV}, {TEST_CSVS[_name]}  (name,...,mos,...)
  <name>.mp4  (e.g. ia-batch1/<id>.mp4)
""",
            load=partial(load_lsvq, name=_name),
            protocol="official",
            source="https://github.com/baidut/PatchVQ",
        )
    )
