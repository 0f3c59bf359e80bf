"""CPU thread counts: Degrader workers run torch ops on one intra-op thread each, while codecs
that hold the GIL (OpenJPEG through Pillow) may still use the threads the caller had."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

_lock = threading.Lock()
_users = 0
_saved = 1
_saved_cv = 1


@contextlib.contextmanager
def one_intraop_thread() -> Iterator[None]:
    """torch ops, and OpenCV's where installed, on one thread inside the block (the images are
    the parallel axis), then the previous counts again. The setting is process-wide:
    concurrent blocks share it, and the last one out restores the counts the first one found."""
    global _users, _saved, _saved_cv
    from degrade._cv import cv2_module

    cv2 = cv2_module()
    with _lock:
        if _users == 0:
            _saved = torch.get_num_threads()
            torch.set_num_threads(1)
            if cv2 is not None:
                _saved_cv = cv2.getNumThreads()
                cv2.setNumThreads(1)
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                torch.set_num_threads(_saved)
                if cv2 is not None:
                    cv2.setNumThreads(_saved_cv)


def codec_threads() -> int:
    """Threads for a codec that holds the GIL while it runs: the caller's torch thread count,
    also inside :func:`one_intraop_thread` (the other workers wait on the GIL meanwhile)."""
    with _lock:
        return _saved if _users else torch.get_num_threads()
