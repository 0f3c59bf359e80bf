"""Source ``folder``: every regular file under a directory tree is a candidate.

Non-image files are not skipped silently: they become ``not_image`` rows. Hidden files and
folders (name starting with ``.``) are left out, as are names given in ``exclude``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from curate.candidate import Candidate, Unit, make_key

SOURCE = "folder"


def list_files(root: Path, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Relative POSIX paths of the regular files under ``root``, sorted (deterministic).

    Raises:
        FileNotFoundError: ``root`` is not a directory.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"folder source: {root} is not a directory")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = Path(dirpath).relative_to(root)
        for name in filenames:
            rel = (rel_dir / name).as_posix()
            if name.startswith(".") or rel in exclude:
                continue
            found.append(rel)
    return sorted(found)


def list_units(
    root: Path,
    unit_size: int,
    exclude: frozenset[str] = frozenset(),
    first_index: int = 0,
    salt: str = "",
) -> list[Unit]:
    """Chunks of ``unit_size`` files, in sorted order.

    Args:
        first_index: index of the first unit (units of several folders stay distinct).
        salt: mixed into every key, so equal relative paths under two roots never collide.
    """
    files = list_files(root, exclude)
    return [
        Unit(
            first_index + i,
            SOURCE,
            f"{root.name}[{start}:{start + unit_size}]",
            (str(root), tuple(chunk), salt),
        )
        for i, start in enumerate(range(0, len(files), unit_size))
        for chunk in [files[start : start + unit_size]]
    ]


def iter_candidates(unit: Unit) -> Iterator[Candidate]:
    """Read the unit's files one at a time; a read error becomes an ``unreadable`` row."""
    root, rels, salt = unit.payload
    for rel in rels:
        path = Path(root) / rel
        cand = Candidate(key=make_key(rel, salt), source=SOURCE, uri=str(path))
        try:
            cand.data = path.read_bytes()
        except OSError as exc:
            cand.reason, cand.detail = "unreadable", f"{type(exc).__name__}: {exc}"
        yield cand
