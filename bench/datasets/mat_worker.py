"""The child process that parses MATLAB ``.mat`` files for :mod:`bench.datasets.matfile`.

Run as a script (``python -P mat_worker.py``), it reads one JSON request per line on stdin,
``{"path": ..., "variables": {"name": "numbers" | "strings"}}``, parses the file with
``scipy.io.loadmat`` and answers one JSON line on stdout: ``{"ok": {"name": [...]}}`` with
plain lists (floats or strings), or ``{"error": "reason"}``. It imports nothing of ``bench``,
so it starts the same however the parent found the package. A corrupt file can kill this
process (scipy's reader is partly compiled code); the parent sees the pipe close and reports
the file, and the next request starts a fresh worker.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

#: Entries per variable above which a score variable is refused (LIVE Challenge has 1,169).
MAX_ENTRIES = 1_000_000
#: Address space the worker may add after start-up (a corrupt compressed variable can claim
#: gigabytes); exceeding it is a MemoryError, reported as a read failure.
MEMORY_HEADROOM = 2 << 30


def limit_memory(headroom: int = MEMORY_HEADROOM) -> None:
    """Cap this process's address space at its current size plus ``headroom`` (Linux only)."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (current + headroom, current + headroom))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no RLIMIT_AS: parse without a cap


def as_numbers(name: str, value: Any) -> list[float]:
    """A numeric MATLAB array (any shape) as a flat list of floats."""
    array = np.asarray(value)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"variable '{name}' is not numeric (found {_describe(array)})")
    return array.astype(np.float64).ravel().tolist()


def as_strings(name: str, value: Any) -> list[str]:
    """A MATLAB cell array of strings, or a char array, as a flat list of strings."""
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return [str(s) for s in array.ravel()]
    if array.dtype != object:
        raise ValueError(f"variable '{name}' is not text (found {_describe(array)})")
    out = []
    for i, item in enumerate(array.ravel()):
        cell = np.asarray(item)
        if cell.dtype.kind != "U" or cell.size > 1:
            raise ValueError(f"entry {i + 1} of '{name}' is not a string (found {_describe(cell)})")
        out.append(str(cell.ravel()[0]) if cell.size else "")
    return out


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype} array of shape {array.shape}"


def parse(path: str, variables: dict[str, str]) -> dict[str, list]:
    """The requested variables of ``path`` as plain lists (``ValueError`` if one is unusable)."""
    from scipy.io import loadmat, whosmat

    data = loadmat(path, variable_names=list(variables))
    out: dict[str, list] = {}
    for name, kind in variables.items():
        if name not in data:
            found = sorted(v[0] for v in whosmat(path))
            raise ValueError(f"no variable '{name}' (found: {found})")
        value = data[name]
        if np.size(value) > MAX_ENTRIES:
            raise ValueError(f"variable '{name}' has {np.size(value)} entries (cap {MAX_ENTRIES})")
        out[name] = as_numbers(name, value) if kind == "numbers" else as_strings(name, value)
    return out


def serve(stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Answer requests until stdin closes; a Python error in a parse is an answer, not an exit."""
    for line in stdin:
        try:
            request = json.loads(line)
            answer: dict[str, Any] = {"ok": parse(request["path"], request["variables"])}
        except Exception as exc:  # any failure inside the parser is a reason to report
            answer = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


if __name__ == "__main__":
    import scipy.io  # noqa: F401  (imported before the cap, so only parsing is capped)

    limit_memory()
    serve()
