"""What sources hand to the measuring workers: units of work and the candidates inside them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unit:
    """One piece of the map: a chunk of files, a tar, an img2dataset shard.

    Attributes:
        index: position in the source's listing; parts are named and ordered by it.
        source: source kind (``folder``, ``laion``, ``sa1b``).
        name: human-readable name (a tar path, ``files 0-255``, ...).
        payload: source-specific, picklable (sent to process-pool or Ray workers).
    """

    index: int
    source: str
    name: str
    payload: tuple[Any, ...]


@dataclass
class Candidate:
    """One input item, read but not yet measured.

    Attributes:
        key: unique, stable WebDataset key (no dots, no slashes).
        source: source kind.
        uri: file path, or the tar holding it (a ``file://`` URI when the path is not valid
            UTF-8, see :mod:`qpt_base.paths`).
        member: tar member name (``""`` for plain files). Never used as a path.
        data: encoded bytes (``None`` when the source could not read them).
        meta: source fields (LAION ``text``/``similarity``/..., SA-1B ``objects``).
        reason: a reason code when the source already rejects it (``unreadable``, ...).
        detail: human-readable detail of the reason (LAION rows: also the metadata file and
            row they come from, kept rows included).
    """

    key: str
    source: str
    uri: str
    member: str = ""
    data: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    detail: str = ""


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def make_key(name: str, salt: str = "") -> str:
    """A WebDataset-safe key from a (possibly hostile) name.

    Keeps a readable slug of ``name`` (dots and slashes become ``_``) and appends 8 hex digits
    of ``sha1(salt + name)`` so distinct names never collide.

    Example:
        >>> make_key("cats/tabby.v2.jpg")
        'cats_tabby_v2_jpg-b2188c94'
    """
    slug = _UNSAFE.sub("_", name).strip("_")[-60:] or "item"
    # surrogateescape: a file name that is not UTF-8 hashes as its own bytes
    digest = hashlib.sha1((salt + name).encode("utf-8", "surrogateescape")).hexdigest()
    return f"{slug}-{digest[:8]}"
