"""Child processes that die with their parent, even when the parent is killed with -9."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Make the calling (child) process exit when ``parent_pid`` dies.

    Meant for a process pool's ``initializer``: a worker blocked on its task queue otherwise
    outlives a killed parent forever. On Linux the kernel sends SIGKILL on the parent's
    death (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread polls the parent's PID.

    Args:
        parent_pid: the parent's PID, as the parent saw it (``os.getpid()`` there).
        poll_s: polling period of the fallback thread.
    """
    if sys.platform.startswith("linux") and _pdeathsig():
        if os.getppid() != parent_pid:  # the parent died before the signal was armed
            os._exit(1)
        return
    threading.Thread(target=_watch, args=(parent_pid, poll_s), daemon=True).start()


def _pdeathsig() -> bool:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, poll_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(poll_s)
    os._exit(1)
