"""Paths as text, losslessly: file names that are not valid UTF-8 survive a Parquet or JSON
column and come back as the same bytes.

A path whose name decodes as UTF-8 is kept as it is; any other (on POSIX a name is bytes,
Python holds the undecodable ones as lone surrogates) becomes an absolute ``file://`` URI
with every byte outside the URI's safe set percent-encoded (RFC 8089). A plain path never
starts with ``file://`` (``str(Path)`` collapses ``//``), so the two forms cannot be
confused.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote_from_bytes, unquote_to_bytes

_URI = "file://"


def path_text(path: str | os.PathLike[str]) -> str:
    """Valid UTF-8 text standing for ``path``.

    >>> path_text("/data/cat.jpg")
    '/data/cat.jpg'
    >>> path_text("/data/caf" + b"\\xe9".decode("utf-8", "surrogateescape") + ".jpg")
    'file:///data/caf%E9.jpg'
    """
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _URI + quote_from_bytes(os.fsencode(os.path.abspath(text)), safe="/")
    return text


def text_path(text: str) -> Path:
    """The path :func:`path_text` stands for (its exact bytes).

    >>> text_path(path_text(b"/x/\\xff.png".decode("utf-8", "surrogateescape"))) == Path(
    ...     os.fsdecode(b"/x/\\xff.png"))
    True
    """
    if text.startswith(_URI):
        return Path(os.fsdecode(unquote_to_bytes(text[len(_URI) :])))
    return Path(text)
