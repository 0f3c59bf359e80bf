"""``qpt score``: score files, folders or WebDataset shards with a scorer folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

HELP = """\
Score images and videos with a scorer folder written by [cyan]qpt finetune[/cyan] (or the [cyan]finetune[/cyan] stage of [cyan]qpt run[/cyan]).

PATH is a file, a folder (searched recursively for images and videos) or a WebDataset shard list ([cyan]shards/shard-{000000..000009}.tar[/cyan]). Views are batched through the model and the crops of an image (and the sampled frames of a video) averaged, as at fitting time. One row per input: path, score and, for a file that cannot be decoded, the error (counted in the summary; the run goes on and exits 0). Scores are in the units and direction of the training data (see the summary).

[bold]Examples[/bold]

\b
  qpt score photos/ -m my-scorer -o scores.csv
  qpt score a.jpg b.png -m my-scorer                 # rows as CSV on stdout
  qpt score 'shards/shard-{000000..000003}.tar' -m my-scorer -o scores.parquet --json
"""


def score_command(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or .tar shards.")],
    model: Annotated[Path, typer.Option("--model", "-m", help="The scorer folder.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="scores.csv, .jsonl or .parquet (default: stdout)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Views per forward pass.")] = 32,
    workers: Annotated[int, typer.Option(help="Decoding threads.")] = 2,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bench.score_files import list_inputs, score_inputs, write_rows
    from bench.scorer import Scorer
    from qpt_base.device import resolve_device

    if out is not None and out.suffix.lower() not in (".csv", ".jsonl", ".parquet"):
        raise ValueError(f"{out}: output must end in .csv, .jsonl or .parquet")
    if batch_size < 1:
        raise ValueError(f"score: --batch-size must be >= 1, got {batch_size}")
    scorer = Scorer.load(model, resolve_device(device))
    scorer.batch_size = batch_size
    inputs = list_inputs(paths)
    console = Console(stderr=True)
    started = time.perf_counter()
    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("score", total=len(inputs))
        rows = list(score_inputs(scorer, inputs, workers, lambda k: bar.advance(task, k)))
    scores = [r.score for r in rows if r.score is not None]
    meta = scorer.meta
    summary = {
        "model": str(model),
        "inputs": len(rows),
        "scored": len(scores),
        "errors": len(rows) - len(scores),
        "out": str(out) if out else None,
        "mean": sum(scores) / len(scores) if scores else None,
        "min": min(scores, default=None),
        "max": max(scores, default=None),
        "higher_better": scorer.higher_better,
        "fitted_on": meta["fitted_on"]["dataset"],
        "score_range": meta["score"]["range"],
        "seconds": round(time.perf_counter() - started, 2),
    }
    if out is not None:
        write_rows(rows, out)
    elif not json_out:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "score", "error"])
        for r in rows:
            writer.writerow([r.path, "" if r.score is None else repr(r.score), r.error])
    if json_out:
        if out is None:
            summary["rows"] = [{"path": r.path, "score": r.score, "error": r.error} for r in rows]
        typer.echo(json.dumps(summary, indent=2))
    direction = "higher is better" if scorer.higher_better else "lower is better"
    console.print(
        f"scored {summary['scored']} of {summary['inputs']} ({summary['errors']} unreadable), "
        f"{direction}, units of {summary['fitted_on']}" + (f" -> {out}" if out else "")
    )


def register(app: typer.Typer) -> None:
    """Add the ``score`` verb to the root app."""
    app.command("score", help=HELP)(score_command)
