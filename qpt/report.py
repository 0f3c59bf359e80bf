"""Terminal tables for stage summaries and whole runs (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _flat(summary: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Scalars of a nested summary as ``(dotted key, value)``; lists are counted."""
    rows: list[tuple[str, Any]] = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _flat(value, name + ".")
        elif isinstance(value, list | tuple):
            rows.append((name, f"[{len(value)} items]"))
        else:
            rows.append((name, value))
    return rows


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_stage_summary(console: Console, stage: str, summary: dict[str, Any], seconds: float):
    """The end-of-stage table: every scalar the stage reported, then its wall time."""
    table = Table(title=f"{stage}: summary", show_header=False, title_justify="left")
    table.add_column("what", style="cyan")
    table.add_column("value", justify="right")
    for key, value in _flat(summary):
        table.add_row(key, _fmt(value))
    table.add_row("wall time (s)", f"{seconds:.1f}")
    console.print(table)


def print_run_table(console: Console, record: dict[str, Any]) -> None:
    """One row per stage of a run: status and seconds, and where the run lives."""
    table = Table(title=f"run '{record['pipeline']}'", title_justify="left")
    for col in ("stage", "kind", "status", "seconds"):
        table.add_column(col, justify="right" if col == "seconds" else "left")
    kinds = {c["name"]: c["kind"] for c in record["config"]}
    for name, entry in record["stages"].items():
        status = entry["status"]
        style = {"done": "green", "skipped": "dim", "failed": "red"}.get(status, "")
        seconds = entry.get("seconds")
        table.add_row(
            name,
            kinds[name],
            f"[{style}]{status}[/{style}]" if style else status,
            "" if seconds is None else f"{seconds:.1f}",
        )
    console.print(table)
