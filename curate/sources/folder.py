"""Source ``folder``: every file under a directory tree is a candidate.

Nothing under the tree vanishes silently: non-image files become ``not_image`` rows, FIFOs,
sockets and devices ``special_file`` rows (rejected from their ``stat``, never opened), and
a directory that cannot be listed an ``unreadable_dir`` row. Hidden files and folders (name
starting with ``.``) are left out, as are names given in ``exclude``. Names that are not
valid UTF-8 are kept: their ``uri`` is a lossless ``file://`` URI (:mod:`qpt_base.paths`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from curate.candidate import Candidate, Unit, make_key
from qpt_base.paths import path_text

SOURCE = "folder"
#: Suffix marking a directory that could not be listed in :func:`list_files`' result.
DIR_MARK = "/"


def list_files(root: Path, exclude: frozenset[str] = frozenset()) -> list[str]:
    """Relative POSIX paths of the non-directory entries under ``root``, sorted.

    A directory below ``root`` that cannot be listed is returned as ``REL/`` (its files
    cannot be known, so the directory itself is reported). Symbolic links to directories
    are entries, not followed.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        PermissionError: ``root`` itself cannot be listed.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"folder source: {root} is not a directory")
    found: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel if rel else root) as it:
                entries = list(it)
        except OSError as exc:
            if not rel:
                msg = f"folder source: {root}: cannot list ({exc.strerror})"
                raise PermissionError(msg) from None
            found.append(rel + DIR_MARK)
            continue
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                stack.append(name)
            elif name not in exclude:
                found.append(name)
    return sorted(found)


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


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
    """Read the unit's files one at a time; what cannot be read becomes a rejected row."""
    root, rels, salt = unit.payload
    for rel in rels:
        path = Path(root) / rel
        cand = Candidate(key=make_key(rel, salt), source=SOURCE, uri=path_text(path))
        if rel.endswith(DIR_MARK):
            cand.reason, cand.detail = "unreadable_dir", _listing_error(path)
            yield cand
            continue
        try:
            cand.data = read_regular(path)
        except SpecialFile as exc:
            cand.reason, cand.detail = "special_file", str(exc)
        except OSError as exc:
            cand.reason, cand.detail = "unreadable", f"{type(exc).__name__}: {exc.strerror}"
        yield cand


class SpecialFile(ValueError):
    """Not a regular file (message: what it is)."""


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file (symbolic links followed); anything else is never read.

    The kind is checked on ``stat`` before opening, and again on the open descriptor (opened
    non-blocking, so a file swapped for a FIFO in between cannot hang the read).

    Raises:
        SpecialFile: a FIFO, socket, device or directory.
        OSError: missing, dangling link, permission denied, I/O error.
    """
    _check_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb", closefd=True) as f:
        _check_regular(os.fstat(fd).st_mode)
        return f.read()


def _check_regular(mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise SpecialFile(f"{kind}: not opened")


def _listing_error(path: Path) -> str:
    try:
        with os.scandir(path):
            return "cannot be listed"
    except OSError as exc:
        return f"cannot be listed: {type(exc).__name__}: {exc.strerror}"
