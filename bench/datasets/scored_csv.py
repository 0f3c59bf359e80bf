"""Your own data: a folder of images (or videos) and a CSV of ``path,score``.

The CSV has a header with at least ``path`` and ``score`` (any case); ``path`` is relative to
the CSV's folder (or absolute); an optional ``group`` column keeps samples of one content on
one side of a random split (as the synthetic benchmark's source photo does). Scores are read
as given; ``higher_better`` says their direction. Every row must have a path and a numeric
score: a missing or non-numeric score is an error naming the line, never a silent drop.
"""

from __future__ import annotations

import csv
from pathlib import Path

from bench.datasets.base import BenchDataset, make_dataset
from bench.media import VIDEO_SUFFIXES


def find_csv(path: Path) -> Path:
    """``path`` itself if it is a file, else the one ``.csv`` inside the folder ``path``."""
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such CSV file or folder")
    found = sorted(path.glob("*.csv"))
    if len(found) != 1:
        raise ValueError(
            f"{path}: expected one .csv of path,score in the folder, found {len(found)}"
        )
    return found[0]


def _column(header: list[str], name: str) -> str | None:
    lookup = {h.strip().lower(): h for h in header}
    return lookup.get(name)


def load_scored_csv(
    path: str | Path, allow_partial: bool = False, higher_better: bool = True
) -> BenchDataset:
    """A dataset from a ``path,score`` CSV (see the module docstring), named after the file.

    Raises:
        FileNotFoundError: no such file or folder.
        ValueError: a missing column, an empty path or score, a score that is not a number,
            no row, or listed files missing (without ``allow_partial``).
    """
    csv_path = find_csv(Path(path))
    name = csv_path.stem
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        cols = {c: _column(header, c) for c in ("path", "score", "group")}
        for needed in ("path", "score"):
            if cols[needed] is None:
                raise ValueError(
                    f"{csv_path}: no '{needed}' column (header: {header}; need path,score)"
                )
        entries = []
        for line, row in enumerate(reader, start=2):
            cells = {c: (row.get(src) or "").strip() for c, src in cols.items() if src}
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            if not cells["path"]:
                raise ValueError(f"{csv_path}: line {line}: empty path")
            if not cells["score"]:
                raise ValueError(f"{csv_path}: line {line}: no score for '{cells['path']}'")
            try:
                score = float(cells["score"])
            except ValueError:
                raise ValueError(
                    f"{csv_path}: line {line}: score '{cells['score']}' is not a number"
                ) from None
            file = csv_path.parent / cells["path"]
            entries.append((cells["path"], score, file, cells.get("group") or None))
    if not entries:
        raise ValueError(f"{csv_path}: no scored row (need a header path,score and rows)")
    media = (
        "video" if all(Path(e[0]).suffix.lower() in VIDEO_SUFFIXES for e in entries) else "image"
    )
    scores = [e[1] for e in entries]
    ds = make_dataset(
        name, "iqa", media, (min(scores), max(scores)), csv_path, entries, allow_partial,
        csv_path.parent,
    )  # fmt: skip
    ds.higher_better = higher_better
    return ds
