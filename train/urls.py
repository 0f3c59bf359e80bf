"""Shard URLs beyond local files: what webdataset opens, plus fsspec filesystems.

webdataset opens ``pipe:CMD`` (the command's stdout), ``http(s)://`` (through curl) and a few
cloud schemes itself; any other scheme with an fsspec implementation (``s3://`` with s3fs,
``gcs://`` with gcsfs, ``memory://``, ...) is opened through fsspec. Remote shards cannot be
listed or checked for completion before training: name them with a brace pattern.
"""

from __future__ import annotations

import re
from typing import IO, Any

import webdataset as wds

_URL = re.compile(r"^(pipe:|[A-Za-z][A-Za-z0-9+.-]*://)")


def is_url(spec: str) -> bool:
    """Whether ``spec`` names a stream webdataset or fsspec opens, not a local path.

    >>> is_url("pipe:cat a.tar"), is_url("s3://b/shard-0.tar"), is_url("runs/shard")
    (True, True, False)
    """
    return bool(_URL.match(spec)) and not spec.startswith("file://")


def _schemes() -> dict[str, Any]:
    import sys

    return sys.modules["webdataset.gopen"].gopen_schemes


def _fsspec_open(url: str, mode: str = "rb", bufsize: int = 8192, **_: Any) -> IO[bytes]:
    import fsspec

    try:
        return fsspec.open(url, mode).open()
    except ImportError as exc:  # fsspec names the package that implements the scheme
        raise ValueError(f"shard {url}: {exc}") from None


def register_fsspec(urls: list[str]) -> None:
    """Let webdataset open the schemes of ``urls`` that it does not know through fsspec.

    Raises:
        ValueError: a scheme that neither webdataset nor fsspec knows.
    """
    import fsspec

    schemes = _schemes()
    for url in urls:
        if not is_url(url) or url.startswith("pipe:"):
            continue
        scheme = url.split("://", 1)[0]
        if scheme in schemes:
            continue
        if scheme not in fsspec.available_protocols():
            raise ValueError(f"shard {url}: unknown URL scheme '{scheme}'")
        schemes[scheme] = _fsspec_open


def expand(spec: str) -> list[str]:
    """A URL or brace pattern of URLs (``pipe:curl -s http://h/shard-{0..3}.tar``) -> URLs."""
    return list(wds.shardlists.expand_urls(spec))
