"""Read a manifest row's original bytes again (for shards and contact sheets)."""

from __future__ import annotations

from curate.sources.tario import TarReader
from qpt_base.paths import text_path


def read_original(uri: str, member: str, tars: TarReader) -> bytes:
    """The encoded bytes the row was measured on.

    Args:
        uri: file path, or the tar holding the member.
        member: tar member name, ``""`` for plain files.
        tars: an open :class:`TarReader` (reuses tar indexes across calls).

    Raises:
        FileNotFoundError: the file, tar or member is gone.
    """
    if member:
        return tars.read(uri, member)
    path = text_path(uri)
    if not path.is_file():
        raise FileNotFoundError(f"{uri}: no such file (moved since curate?)")
    return path.read_bytes()
