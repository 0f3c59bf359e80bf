"""Write-to-temporary-then-rename, so a reader never sees a half-written file.

Temporary names are unique per process and call (``.NAME.tmp-PID-RANDOM``), so two writers
of the same path never share a temporary file; a crash leaves at most a dot-file that
:func:`sweep_temporaries` removes.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TMP_MARK = ".tmp-"


def temporary_name(path: Path) -> Path:
    """A fresh hidden sibling of ``path``: ``.NAME.tmp-PID-HEX``."""
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is renamed onto ``path``.

    On an exception the temporary (file or folder) is removed and ``path`` is untouched.

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = pathlib.Path(folder) / "a.txt"
    ...     with atomic_path(out) as tmp:
    ...         _ = tmp.write_text("done")
    ...     out.read_text(), [p.name for p in out.parent.iterdir()]
    ('done', ['a.txt'])
    """
    final = Path(path)
    tmp = temporary_name(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON (keys in insertion order, trailing newline), atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, default=str) + "\n")


def sweep_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries left in ``folder`` by writers that died; returns what went."""
    gone = []
    for p in Path(folder).glob(f".*{TMP_MARK}*"):
        _remove(p)
        gone.append(p)
    return gone


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        import shutil

        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
