"""What a run reports while it trains: ``metrics.jsonl`` (+ TensorBoard when installed) and a
progress bar, both on rank 0 only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from qpt_base.atomic import atomic_write_text

from .visualize import read_metrics

METRICS_FILE = "metrics.jsonl"


def truncate_metrics(path: Path, step: int) -> None:
    """Keep only the lines of steps <= ``step`` (the checkpoint a run resumes from): the
    lines of steps run after it are written again, and a crash may have cut the last one."""
    if path.is_file():
        keep = [r for r in read_metrics(path) if r.get("step", 0) <= step]
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in keep))


class MetricsLog:
    """Appends one JSON line per logged step to ``out_dir/metrics.jsonl``; measures images/s
    over the steps since the previous line.

    Args:
        enabled: False on every rank but 0 (nothing is written).
    """

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.path = out_dir / METRICS_FILE
        self.enabled, self.tb = enabled, None
        self.t_window, self.n_window = time.perf_counter(), 0
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"))
            except ImportError:
                pass

    def count(self, images: int) -> None:
        """Images trained on (all ranks) since the last call."""
        self.n_window += images

    def images_per_s(self) -> float:
        """Images/s since the previous call (or since the log was opened); restarts the window."""
        now = time.perf_counter()
        ips = self.n_window / max(1e-9, now - self.t_window)
        self.t_window, self.n_window = now, 0
        return ips

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if k != "step" and isinstance(v, int | float):
                    self.tb.add_scalar(f"pretrain/{k}", v, record["step"])

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class ProgressBar:
    """A rich progress bar of optimiser steps with loss, lr and images/s (a context manager).

    Args:
        total, completed: steps of the whole run, and done before this call.
        lr: the lr shown until the first step.
    """

    def __init__(
        self, console: Console, enabled: bool, total: int, completed: int, lr: float
    ) -> None:
        self.progress = Progress(
            TextColumn("pretrain"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}  lr {task.fields[lr]:.2e}"),
            TextColumn("{task.fields[ips]:.1f} img/s"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.fields = dict(total=total, completed=completed, loss=float("nan"), lr=lr, ips=0.0)

    def __enter__(self) -> ProgressBar:
        self.progress.__enter__()
        self.task = self.progress.add_task("pretrain", **self.fields)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def update(self, **fields: Any) -> None:
        self.progress.update(self.task, **fields)
