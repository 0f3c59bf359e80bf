"""TAD66K (He et al., IJCAI 2022): 66k theme-aware aesthetic photos, scores 1..10.

Official release: ``labels/merge/train.csv`` and ``labels/merge/test.csv`` (header
``image,score``) and the photos in ``imgs/`` (some copies name it ``images/``). Official split:
train on ``train.csv``, score on ``test.csv``.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset
from bench.datasets.files import read_csv, to_float
from bench.datasets.registry import register_dataset

NAME = "tad66k"
TRAIN_CSV = "labels/merge/train.csv"
TEST_CSV = "labels/merge/test.csv"
IMAGE_DIRS = ("imgs", "images")


def load_tad66k(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the merged train/test label files and ``imgs/``."""
    image_dir = next((root / d for d in IMAGE_DIRS if (root / d).is_dir()), root / IMAGE_DIRS[0])
    entries, parts = [], {}
    for part, rel in (("train", TRAIN_CSV), ("test", TEST_CSV)):
        rows = read_csv(root / rel, NAME, ("image", "score"))
        for r in rows:
            entries.append(
                (r["image"], to_float(r["score"], str(root / rel)), image_dir / r["image"], None)
            )
        parts[part] = {r["image"] for r in rows}
    labels = root / "labels/merge"
    return make_dataset(
        NAME, "iaa", "image", (1.0, 10.0), labels, entries, allow_partial, root, parts
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="TAD66K",
        task="iaa",
        markers=(TEST_CSV,),
        requires=(TRAIN_CSV,),
        layout=f"""
TAD66K/
  {TRAIN_CSV}, {TEST_CSV}  (image,score)
  imgs/<image>
""",
        load=load_tad66k,
        protocol="official",
        source="https://github.com/woshidandan/TANet",
    )
)
