"""Progress bars of the command line (rich), handed to library functions as plain wrappers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from rich.console import Console


def rich_progress(console: Console, label: str) -> Callable[[Iterator[Any], int], Iterator[Any]]:
    """A ``progress(iterator, total)`` wrapper drawing a rich progress bar on ``console``."""
    from rich.progress import track

    def wrap(it: Iterator[Any], total: int) -> Iterator[Any]:
        yield from track(it, total=total, description=label, console=console, transient=True)

    return wrap
