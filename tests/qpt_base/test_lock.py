"""One writer per folder: a second is refused at once, a dead owner's lock is taken over."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from qpt_base.lock import LOCK_NAME, FolderLocked, folder_lock, pid_alive

_HOLD = """
import sys, time
from qpt_base.lock import folder_lock
with folder_lock(sys.argv[1], "holder"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def test_second_writer_is_refused_with_the_owner_named(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderLocked) as refused, folder_lock(tmp_path):
            pass
        message = str(refused.value)
        assert f"pid {holder.pid} on {socket.gethostname()}" in message and "holder" in message
        assert "\n" not in message and isinstance(refused.value, ValueError)
    finally:
        holder.communicate("\n")
    assert holder.returncode == 0 and not (tmp_path / LOCK_NAME).exists()  # released cleanly
    with folder_lock(tmp_path):  # free again
        pass


def test_lock_of_a_killed_owner_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_env(),
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    assert json.loads((tmp_path / LOCK_NAME).read_text())["pid"] == holder.pid  # left behind
    with folder_lock(tmp_path, "next") as path:
        assert json.loads(path.read_text())["pid"] == os.getpid()


def test_stale_pid_file_is_taken_over_and_a_live_pid_is_refused(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_NAME
    host = socket.gethostname()
    lock.write_text(json.dumps({"pid": _dead_pid(), "host": host}))
    with folder_lock(tmp_path) as path:  # dead PID on this host: stale
        assert json.loads(path.read_text())["pid"] == os.getpid()
    # A live PID named in the file is refused even without an flock behind it (filesystems
    # where flock is a no-op).
    lock.write_text(json.dumps({"pid": os.getppid(), "host": host, "what": "curate"}))
    with pytest.raises(FolderLocked, match=f"in use by curate \\(pid {os.getppid()} "):
        with folder_lock(tmp_path):
            pass
    # Another host's lock cannot be checked from here: refused, with what to do.
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(FolderLocked, match="another host.*delete"):
        with folder_lock(tmp_path):
            pass


def test_garbage_in_the_lock_file_is_not_an_owner(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_bytes(b"\xff\x00not json")
    with folder_lock(tmp_path) as path:
        assert json.loads(path.read_text())["host"] == socket.gethostname()


def test_pid_alive() -> None:
    assert pid_alive(os.getpid()) and not pid_alive(_dead_pid())
