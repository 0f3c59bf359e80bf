"""Reads of untrusted tar files: member names are data, never paths.

Members are grouped WebDataset-style by their stem (``dir/sa_1.jpg`` + ``dir/sa_1.json`` ->
``sa_1``), whatever their order in the tar: ``tar cf`` of an extracted folder stores all
``.jpg`` before all ``.json`` (or in directory order), not pair by pair. A broken tar yields
what precedes the break; the member that is cut is reported, not lost.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path


def split_member(name: str) -> tuple[str, str]:
    """``'a/b/sa_1.jpg'`` -> ``('a/b/sa_1', 'jpg')``: stem (up to the first dot of the base
    name, the WebDataset rule) and extension, lower-cased."""
    head, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{head}/{stem}" if head else stem), ext.lower()


Files = dict[str, tuple[str, bytes]]


def index_members(tar: tarfile.TarFile) -> tuple[dict[str, dict[str, tarfile.TarInfo]], str]:
    """Regular-file members grouped by stem, in order of each stem's first member.

    Reads headers only (no member data). A later member of the same name replaces an
    earlier one (``tar`` semantics).

    Returns:
        ``{stem: {ext: info}}`` and ``""``, or the error that stopped the index (the
        members before it are kept).
    """
    groups: dict[str, dict[str, tarfile.TarInfo]] = {}
    try:
        for info in tar:
            if info.isfile():  # directories, links, devices: never followed
                stem, ext = split_member(info.name)
                groups.setdefault(stem, {})[ext] = info
    except (tarfile.TarError, OSError, EOFError) as exc:
        return groups, f"{type(exc).__name__}: {exc}"
    return groups, ""


def iter_samples(path: Path) -> Iterator[tuple[str, Files, str]]:
    """A tar as samples, members paired by stem whatever their order.

    Two passes over one open tar: the headers (:func:`index_members`), then each sample's
    members read by offset. Memory: one ``TarInfo`` per member and one sample's bytes.

    Yields:
        ``(stem, {ext: (member name, bytes)}, error)`` in order of each stem's first
        member. ``error`` is ``""`` normally, or says which member is cut (its bytes are
        then ``b""``). When the headers stop at a break, a last ``("", {}, error)`` says so.
    """
    try:
        tar = tarfile.open(path, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield "", {}, f"{type(exc).__name__}: {exc}"
        return
    with tar:
        groups, broken = index_members(tar)
        for stem, members in groups.items():
            files: Files = {}
            error = ""
            for ext, info in members.items():
                try:
                    handle = tar.extractfile(info)
                    data = handle.read() if handle is not None else b""
                    if len(data) != info.size:
                        raise tarfile.ReadError("unexpected end of data")
                except (tarfile.TarError, OSError, EOFError) as exc:
                    files[ext] = (info.name, b"")
                    error = error or f"member {info.name!r} is truncated ({exc})"
                    continue
                files[ext] = (info.name, data)
            yield stem, files, error
    if broken:
        yield "", {}, broken


def read_member(path: Path, member: str) -> bytes:
    """The bytes of one member (a sequential scan; shard writing uses :class:`TarReader`)."""
    with TarReader() as reader:
        return reader.read(path, member)


class TarReader:
    """Random access to members of several tars, each tar indexed once (uncompressed tars)."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]] = {}

    def read(self, path: Path | str, member: str) -> bytes:
        """Bytes of ``member`` in the tar at ``path``.

        Raises:
            FileNotFoundError: the tar or the member is missing, or the member is cut.
        """
        key = str(path)
        if key not in self._open:
            if len(self._open) >= 8:
                self.close()
            try:
                tar = tarfile.open(key, mode="r:*")
            except (tarfile.TarError, OSError) as exc:
                raise FileNotFoundError(f"{path}: cannot open tar ({exc})") from exc
            members: dict[str, tarfile.TarInfo] = {}
            try:  # index up to a break: members before it stay readable
                for info in tar:
                    if info.isfile():
                        members[info.name] = info
            except (tarfile.TarError, OSError, EOFError):
                pass
            self._open[key] = (tar, members)
        tar, members = self._open[key]
        if member not in members:
            raise FileNotFoundError(f"{path}: no member {member!r}")
        handle = tar.extractfile(members[member])
        assert handle is not None
        try:
            return handle.read()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise FileNotFoundError(f"{path}: member {member!r} is truncated ({exc})") from exc

    def close(self) -> None:
        for tar, _ in self._open.values():
            tar.close()
        self._open.clear()

    def __enter__(self) -> TarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
