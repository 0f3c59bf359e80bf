"""SPAQ (Fang et al., CVPR 2020): 11,125 smartphone photos, MOS 0..100 (higher is better).

Score file ``MOS and Image attribute scores.xlsx`` (first sheet, header ``Image name, MOS,
Brightness, Colorfulness, Contrast, Noisiness, Sharpness``) in ``Annotations/`` (as shipped),
``annotations/`` or the release folder itself. The photos ``00001.jpg ...`` are read from
whichever holds them of ``TestImage/`` beside ``Annotations/``, ``SPAQ/TestImage/`` (the image
archive unpacks its own ``SPAQ`` folder) or ``TestImage/TestImage/``. No official split:
random 80/20 splits. The photos are full camera resolution; crops at native resolution keep
their quality cues (see ``bench.media``).
"""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, make_dataset, pick_folder
from bench.datasets.files import read_xlsx, to_float
from bench.datasets.registry import register_dataset

NAME = "spaq"
SCORE_NAME = "MOS and Image attribute scores.xlsx"
SCORE_FILES = (f"Annotations/{SCORE_NAME}", f"annotations/{SCORE_NAME}", SCORE_NAME)
IMAGE_DIRS = ("TestImage", "SPAQ/TestImage", "TestImage/TestImage")


def load_spaq(root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read the SPAQ release (the annotation spreadsheet as shipped)."""
    score_file = next(
        (root / f for f in SCORE_FILES if (root / f).is_file()), root / SCORE_FILES[0]
    )
    rows = read_xlsx(score_file, NAME)
    if not rows:
        raise ValueError(f"{NAME}: {score_file}: empty first sheet")
    header = [h.strip().lower() for h in rows[0]]
    if "image name" not in header or "mos" not in header:
        raise ValueError(f"{NAME}: {score_file}: needs columns 'Image name' and 'MOS' ({rows[0]})")
    name_col, mos_col = header.index("image name"), header.index("mos")
    scored = []
    for n, row in enumerate(rows[1:], start=2):
        row = row + [""] * (max(name_col, mos_col) + 1 - len(row))
        name = row[name_col].strip()
        if name:
            scored.append((name, to_float(row[mos_col], f"{NAME}: {score_file} row {n}")))
    image_dir = pick_folder(NAME, score_file, root, IMAGE_DIRS, [name for name, _ in scored])
    entries = [(name, mos, image_dir / name, None) for name, mos in scored]
    return make_dataset(
        NAME, "iqa", "image", (0.0, 100.0), score_file, entries, allow_partial, root
    )


SPEC = register_dataset(
    DatasetSpec(
        name=NAME,
        title="SPAQ",
        task="iqa",
        markers=SCORE_FILES,
        layout=f"""
SPAQ/
  Annotations/{SCORE_NAME}  (Image name, MOS 0..100, attributes;
      annotations/ or beside TestImage/ also work)
  TestImage/00001.jpg ... 11125.jpg
    or SPAQ/TestImage/...  (the image archive unpacked inside the release folder)
    or TestImage/TestImage/...
""",
        load=load_spaq,
        source="https://github.com/h4nwei/SPAQ",
    )
)
