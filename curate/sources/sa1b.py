"""Source ``sa1b``: SA-1B tars (``sa_N.jpg`` + ``sa_N.json``), the paper's chosen corpus.

The JSON holds ``image`` (``image_id``, ``width``, ``height``, ``file_name``) and
``annotations`` (one mask each): objects per image is ``len(annotations)``, exact.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from curate.candidate import Candidate, Unit, make_key
from curate.sources.tario import Files, iter_samples

SOURCE = "sa1b"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")


def list_tars(path: Path) -> list[Path]:
    """``path`` itself when it is a tar, else the ``*.tar`` files under it, sorted.

    Raises:
        FileNotFoundError: nothing there, or no tar in the folder.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{SOURCE} source: {path} does not exist")
    tars = sorted(p for p in path.rglob("*.tar") if p.is_file())
    if not tars:
        raise FileNotFoundError(f"{SOURCE} source: no .tar file under {path}")
    return tars


def list_units(path: Path) -> list[Unit]:
    """One unit per tar."""
    return [Unit(i, SOURCE, str(t), (str(t),)) for i, t in enumerate(list_tars(path))]


def iter_candidates(unit: Unit) -> Iterator[Candidate]:
    """One candidate per image stem in the tar; annotations give ``objects``."""
    (tar,) = unit.payload
    for stem, files, error in iter_samples(Path(tar)):
        if not files and not error:
            continue
        yield _candidate(tar, stem, files, error)


def _candidate(tar: str, stem: str, files: Files, error: str) -> Candidate:
    name = stem.rpartition("/")[2] or "unnamed"
    image = next((files[e] for e in IMAGE_EXTS if e in files), None)
    cand = Candidate(key=make_key(name, salt=Path(tar).name), source=SOURCE, uri=tar)
    if image is not None:
        cand.member, cand.data = image
    if error:
        cand.reason, cand.detail = "unreadable", f"broken tar at {stem!r}: {error}"
        return cand
    if image is None:
        cand.reason, cand.detail = "unreadable", f"no image member for {stem!r}"
        return cand
    try:
        info = json.loads(files["json"][1])
        cand.meta["objects"] = float(len(info["annotations"]))
        cand.meta["declared_width"] = int(info["image"]["width"])
        cand.meta["declared_height"] = int(info["image"]["height"])
    except (KeyError, TypeError, ValueError) as exc:
        cand.reason = "bad_annotation"
        cand.detail = f"{stem}.json: {type(exc).__name__}: {exc}"
    return cand
