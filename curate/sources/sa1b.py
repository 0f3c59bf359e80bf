"""Source ``sa1b``: SA-1B tars (``sa_N.jpg`` + ``sa_N.json``), the paper's chosen corpus.

The JSON holds ``image`` (``image_id``, ``width``, ``height``, ``file_name``) and
``annotations`` (one mask each): objects per image is ``len(annotations)``, exact.

Members are paired by stem whatever their order in the tar (a tar re-made with ``tar cf``
from an extracted folder is not pair by pair). An image without its JSON is
``bad_annotation``; a JSON without its image is ``unreadable``; both say which member is
missing.
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
    """One unit per tar, by absolute path (the manifest works from any directory).

    Keys are salted with the tar's path under ``path`` (its name for a top-level tar), so
    ``a/sa_000000.tar`` and ``b/sa_000000.tar`` never share keys.
    """
    path = path.resolve()
    units = []
    for i, tar in enumerate(list_tars(path)):
        salt = tar.name if path.is_file() else tar.relative_to(path).as_posix()
        units.append(Unit(i, SOURCE, str(tar), (str(tar), salt)))
    return units


def iter_candidates(unit: Unit) -> Iterator[Candidate]:
    """One candidate per image stem in the tar; annotations give ``objects``."""
    tar, salt = unit.payload
    for stem, files, error in iter_samples(Path(tar)):
        if not files and not error:
            continue
        yield _candidate(tar, salt, stem, files, error)


def _candidate(tar: str, salt: str, stem: str, files: Files, error: str) -> Candidate:
    name = stem.rpartition("/")[2] or "unnamed"
    image = next((files[e] for e in IMAGE_EXTS if e in files), None)
    cand = Candidate(key=make_key(name, salt=salt), source=SOURCE, uri=tar)
    if image is not None:
        cand.member, cand.data = image
    if error:
        cand.reason, cand.detail = "unreadable", f"broken tar at {stem!r}: {error}"
        return cand
    if image is None:
        others = ", ".join(sorted(member for member, _ in files.values()))
        cand.reason = "unreadable"
        cand.detail = f"{others}: no image member {stem}.jpg in the tar"
        return cand
    if "json" not in files:
        cand.reason = "bad_annotation"
        cand.detail = f"{cand.member}: no annotation member {stem}.json in the tar"
        return cand
    member, raw = files["json"]
    try:
        info = json.loads(raw)
        cand.meta["objects"] = float(len(info["annotations"]))
        cand.meta["declared_width"] = int(info["image"]["width"])
        cand.meta["declared_height"] = int(info["image"]["height"])
    except KeyError as exc:
        cand.reason, cand.detail = "bad_annotation", f"{member}: no field {exc.args[0]!r}"
    except (TypeError, ValueError) as exc:
        cand.reason, cand.detail = "bad_annotation", f"{member}: {type(exc).__name__}: {exc}"
    return cand
