"""One writer per output folder: a lock file holding the owner's PID and host.

A second writer is refused at once (:class:`FolderLocked`, one line naming the owner); it
never waits. The lock is an ``flock`` on ``qpt.lock`` inside the folder, so the kernel
releases it when its owner dies, even by ``kill -9``; the PID and host written into the
file name the owner in the refusal and catch what ``flock`` cannot see:

* a lock left by a dead process on this host (stale) is taken over;
* a lock whose PID is alive on this host is refused even where ``flock`` is a no-op;
* a lock left on another host is refused (its PID cannot be checked from here): delete the
  file once that run is gone.

A clean release removes the file.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: the PID check alone
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "qpt.lock"


class FolderLocked(ValueError):
    """Another live writer owns the folder (message: one line naming it)."""


@contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str = "qpt") -> Iterator[Path]:
    """Hold ``folder/qpt.lock`` for the duration of the block.

    Args:
        folder: the output folder (must exist).
        what: the writer's name, recorded in the file (e.g. ``curate``).

    Yields:
        the lock file's path.

    Raises:
        FolderLocked: another live writer holds the folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with folder_lock(folder) as path:
    ...         print(path.name, path.exists())
    ...     print(path.exists())
    qpt.lock True
    False
    """
    path = Path(folder) / LOCK_NAME
    fd = _acquire(path, what)
    try:
        yield path
    finally:
        # Unlink before closing: a waiter that opened this inode finds it gone and retries.
        try:
            if _same_file(path, fd):
                path.unlink()
        finally:
            os.close(fd)


def _acquire(path: Path, what: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise FolderLocked(_refusal(path, _read(fd), "in use")) from None
                except OSError:  # flock unsupported here (some network filesystems)
                    pass
            if not _same_file(path, fd):  # its owner released it meanwhile: start again
                os.close(fd)
                continue
            _refuse_if_owned(path, _read(fd))
            record = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                      "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
            return fd
        except BaseException:
            os.close(fd)
            raise


def _refuse_if_owned(path: Path, owner: dict | None) -> None:
    """Refuse a lock a live process still names; a dead PID on this host is stale."""
    if not owner:
        return
    pid, host = owner.get("pid"), owner.get("host")
    if host != socket.gethostname():
        raise FolderLocked(
            _refusal(path, owner, "locked from another host")
            + f"; if that run is gone, delete {path}"
        )
    if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid):
        raise FolderLocked(_refusal(path, owner, "in use"))


def _refusal(path: Path, owner: dict | None, state: str) -> str:
    who = "another process"
    if owner:
        who = f"{owner.get('what', 'qpt')} (pid {owner.get('pid')} on {owner.get('host')}"
        who += f", since {owner['since']})" if owner.get("since") else ")"
    return f"{path.parent}: {state} by {who}; wait for it to finish or use another folder"


def _read(fd: int) -> dict | None:
    try:
        data = os.pread(fd, 4096, 0)
        owner = json.loads(data) if data.strip() else None
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _same_file(path: Path, fd: int) -> bool:
    try:
        a, b = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists on this host (zombies count as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
