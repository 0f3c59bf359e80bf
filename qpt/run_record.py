"""Who runs a run folder, and what ``run.json`` says once its process is gone.

``run.json`` records the PID and host of the ``qpt run`` that writes it. A run killed
without a chance to write (SIGKILL, power loss) stays "running" in the file; readers go
through :func:`read_run`, which shows such a run as interrupted.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from rich.console import Console

from qpt_base.lock import pid_alive

RUN_FILE = "run.json"


def owner() -> dict[str, Any]:
    """This process, as ``run.json`` records it: ``{"pid": ..., "host": ...}``."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def read_run(run_dir: Path) -> dict[str, Any] | None:
    """``run_dir/run.json`` (None when absent or unreadable). A run recorded as running by a
    process of this host that no longer exists is returned as ``"interrupted"``, and so is
    the stage it was running."""
    try:
        record = json.loads((run_dir / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("status") != "running":
        return record
    pid, host = record.get("pid"), record.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid_alive(pid):
        return record  # alive, or not ours to judge
    record["status"] = "interrupted"
    for entry in _stages(record).values():
        if entry.get("status") == "running":
            entry["status"] = "interrupted"
    return record


def _stages(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    stages = record.get("stages")
    if not isinstance(stages, dict):
        return {}
    return {k: v for k, v in stages.items() if isinstance(v, dict)}


def report_interrupted(run_dir: Path, console: Console) -> None:
    """Say so when the previous run in ``run_dir`` was killed (before it is overwritten)."""
    record = read_run(run_dir)
    if record is None or record.get("status") != "interrupted":
        return
    stages = [s for s, e in _stages(record).items() if e.get("status") == "interrupted"]
    where = f" in stage '{stages[0]}'" if stages else ""
    console.print(
        f"[yellow]{run_dir / RUN_FILE}: the previous run (PID {record['pid']}, started "
        f"{record.get('started')}) was interrupted{where}; continuing it[/yellow]"
    )
