"""Streaming reads of untrusted tar files: member names are data, never paths.

Members are grouped WebDataset-style by their stem (``dir/sa_1.jpg`` + ``dir/sa_1.json`` ->
``sa_1``). A broken tar stops at the break; the member being read is reported, not lost.
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


def iter_samples(path: Path) -> Iterator[tuple[str, Files, str]]:
    """Stream a tar as samples.

    Yields:
        ``(stem, {ext: (member name, bytes)}, error)``: ``error`` is ``""`` normally; when
        the tar breaks, the last (possibly partial) sample is yielded with the error and
        iteration stops.
    """
    stem_now: str | None = None
    files: Files = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for info in tar:
                if not info.isfile():
                    continue  # directories, links, devices: never followed
                stem, ext = split_member(info.name)
                if stem_now is not None and stem != stem_now:
                    yield stem_now, files, ""
                    files = {}
                stem_now = stem
                handle = tar.extractfile(info)
                data = handle.read() if handle is not None else b""
                files[ext] = (info.name, data)
                if len(data) != info.size:
                    raise tarfile.ReadError(f"member {info.name!r} is truncated")
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield stem_now or "", files, f"{type(exc).__name__}: {exc}"
        return
    if stem_now is not None:
        yield stem_now, files, ""


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
            FileNotFoundError: the tar or the member is missing.
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
        return handle.read()

    def close(self) -> None:
        for tar, _ in self._open.values():
            tar.close()
        self._open.clear()

    def __enter__(self) -> TarReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
