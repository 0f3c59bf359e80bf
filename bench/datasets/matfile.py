"""MATLAB ``.mat`` score files, parsed where a corrupt file cannot take the run down.

``scipy.io.loadmat`` is partly compiled code: some corrupt files make it read out of bounds and
the process dies (SIGSEGV) instead of raising, and a corrupt compressed variable can claim
gigabytes. A header check could only catch the simplest cases (a full structural check is a
second MAT parser), so the parse runs in a worker process (``mat_worker.py``) instead:

* started with ``subprocess`` (not ``fork``: the parent may hold threads, and forking a
  threaded process can deadlock the child), once, then reused: a parse costs a pipe round
  trip, and the start-up (importing scipy) is paid once per run;
* under an address-space cap and a per-file timeout;
* answering plain JSON (lists of floats or strings), so nothing from the file is unpickled.

If the worker dies or times out, the file is reported (``ValueError`` naming it, the signal
and the reason) and the next call starts a fresh worker. Empty, truncated and non-v5 files are
refused from their 128-byte header without a round trip.
"""

from __future__ import annotations

import atexit
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import numpy as np

from bench.datasets.files import require

Kind = Literal["numbers", "strings"]

WORKER = Path(__file__).with_name("mat_worker.py")
#: Seconds one file may take (the LIVE releases parse in milliseconds).
TIMEOUT = 60.0
HEADER_BYTES = 128


class _Worker:
    """One long-lived ``mat_worker.py`` process; calls are serialised by a lock."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
            )
        return self.proc

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def ask(self, request: dict, timeout: float) -> dict:
        """Send one request; the answer, or ``{"error": ...}`` if the worker died or stalled."""
        with self.lock:
            proc = self._start()
            try:
                proc.stdin.write(json.dumps(request) + "\n")
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # the worker is gone: the read below sees the end of its output
            line: list[str] = []
            reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()))
            reader.start()
            reader.join(timeout)
            if reader.is_alive():
                proc.kill()
                reader.join()
                proc.wait()
                return {"error": f"the MAT reader took more than {timeout:g} s (stopped)"}
            if line and line[0]:
                try:
                    return json.loads(line[0])
                except ValueError:
                    return {"error": "the MAT reader answered garbage"}
            code = proc.wait()
            return {"error": f"the MAT reader crashed ({_exit_reason(code)})"}


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


_WORKER = _Worker()
atexit.register(_WORKER.close)


def check_header(path: Path, dataset: str) -> None:
    """Refuse files that cannot be MATLAB v5 ``.mat`` files from their first 128 bytes.

    A v5 file starts with 116 bytes of text (``MATLAB 5.0 MAT-file ...``), 8 bytes of subsystem
    offset, the version 0x0100 and the endianness mark ``IM`` / ``MI``. MATLAB v7.3 files are
    HDF5 and v4 files have no header; the official releases are v5.
    """
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
    if len(head) < HEADER_BYTES:
        raise ValueError(
            f"{dataset}: {path}: {len(head)} bytes, too short for a MATLAB .mat file "
            f"(empty or truncated)"
        )
    version_by_mark = {b"IM": b"\x00\x01", b"MI": b"\x01\x00"}  # 0x0100, little / big endian
    if version_by_mark.get(head[126:128]) != head[124:126]:
        if head.startswith(b"MATLAB 7.3"):
            raise ValueError(
                f"{dataset}: {path}: a MATLAB v7.3 (HDF5) file; the releases ship v5 files "
                "(re-save with save(..., '-v7'))"
            )
        raise ValueError(f"{dataset}: {path}: not a MATLAB v5 .mat file (bad header)")


def read_mat(
    path: Path, dataset: str, variables: Mapping[str, Kind], timeout: float | None = None
) -> dict[str, np.ndarray | list[str]]:
    """Variables of a MATLAB v5 ``.mat`` file, parsed in the worker process.

    Args:
        variables: ``{name: "numbers" | "strings"}``; numbers come back as a flat (N,) float64
            array (any MATLAB numeric class and shape), strings as a list (a cell array of
            strings or a char array).
        timeout: seconds the parse may take (default :data:`TIMEOUT`).

    Raises:
        FileNotFoundError: ``path`` is missing.
        ValueError: naming ``path``: not a v5 file, a variable missing or of the wrong kind, or
            any parse failure, including the parser crashing or stalling.
    """
    require(path, dataset)
    try:
        check_header(path, dataset)
    except OSError as exc:
        raise ValueError(f"{dataset}: {path}: cannot read: {exc.strerror or exc}") from None
    request = {"path": str(path), "variables": dict(variables)}
    answer = _WORKER.ask(request, TIMEOUT if timeout is None else timeout)
    if "error" in answer:
        raise ValueError(f"{dataset}: {path}: cannot read as a .mat file: {answer['error']}")
    return {
        name: np.asarray(values, dtype=np.float64) if variables[name] == "numbers" else values
        for name, values in answer["ok"].items()
    }
