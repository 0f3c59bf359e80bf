"""TAD66K (He et al., IJCAI 2022): 66k theme-aware aesthetic photos, scores 1..10.

Label files (header ``image,score``), as either source ships them:

* ``labels/merge/train.csv`` and ``labels/merge/test.csv`` (the dataset download), or
* ``dataset/merge/train.csv`` and ``dataset/merge/test.csv`` (``dataset.zip`` of the authors'
  code repository, ``code/TAD66K/``).

The photos ``<image>`` are read from ``imgs/`` (the download), ``images/`` or ``TAD66K/``
beside the label folder, whichever holds them. Official split: train on ``train.csv``, score
on ``test.csv``.
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import (
    BenchDataset,
    DatasetSpec,
    check_entries,
    make_dataset,
    pick_folder,
)
from bench.datasets.files import read_csv, require, to_float
from bench.datasets.registry import register_dataset

NAME = "tad66k"
LABEL_DIRS = ("labels/merge", "dataset/merge")
IMAGE_DIRS = ("imgs", "images", "TAD66K")
SCORE_RANGE = (1.0, 10.0)


def load_tad66k(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the merged train/test label files and the photo folder."""
    labels = next((root / d for d in LABEL_DIRS if (root / d / "test.csv").is_file()), None)
    if labels is None:
        raise FileNotFoundError(f"{NAME}: no {' or '.join(LABEL_DIRS)}/test.csv in {root}")
    files = {part: require(labels / f"{part}.csv", NAME) for part in ("train", "test")}
    rows = {part: read_csv(path, NAME, ("image", "score")) for part, path in files.items()}
    names = [r["image"] for part in rows.values() for r in part]
    image_dir = pick_folder(NAME, files["train"], root, IMAGE_DIRS, names)
    entries, parts = [], {}
    for part, path in files.items():
        found = [
            (r["image"], to_float(r["score"], f"{NAME}: {path}"), image_dir / r["image"], None)
            for r in rows[part]
        ]
        check_entries(NAME, path, found, SCORE_RANGE)
        entries += found
        parts[part] = {e[0] for e in found}
    return make_dataset(
        NAME, "iaa", "image", SCORE_RANGE, tuple(files.values()), entries, allow_partial, root,
        parts,
    )  # fmt: skip


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="TAD66K",
        task="iaa",
        markers=tuple(f"{d}/test.csv" for d in LABEL_DIRS),
        layout="""
TAD66K/
  labels/merge/train.csv, labels/merge/test.csv  (image,score; the dataset download)
    or dataset/merge/train.csv, dataset/merge/test.csv  (dataset.zip of the code repository)
  imgs/<image>  (or images/<image>, or TAD66K/<image> beside labels/)
""",
        load=load_tad66k,
        protocol="official",
        source="https://github.com/woshidandan/TANet-image-aesthetics-and-quality-assessment",
    )
)
