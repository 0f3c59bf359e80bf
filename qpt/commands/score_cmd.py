"""``qpt score``: score files, folders or WebDataset shards with a scorer folder."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bench.score_stage import ScoreParams  # pydantic only: cheap to import
from qpt.options import model_options, validate_params

if TYPE_CHECKING:
    from bench.score_stage import Scored

HELP = """\
Score images and videos with a scorer folder written by [cyan]qpt finetune[/cyan] (or the [cyan]finetune[/cyan] stage of [cyan]qpt run[/cyan]).

PATH is a file, a folder (searched recursively for images and videos) or a WebDataset shard list ([cyan]shards/shard-{000000..000009}.tar[/cyan]). Views are batched through the model and the crops of an image (and the sampled frames of a video) averaged, as at fitting time. One row per input: path, score and, for a file that cannot be decoded, the error (counted in the summary; the run goes on and exits 0). Scores are in the units and direction of the training data (see the summary).

[bold]Examples[/bold]

\b
  qpt score photos/ -m my-scorer -o scores.csv
  qpt score a.jpg b.png -m my-scorer                 # rows as CSV on stdout
  qpt score 'shards/shard-{000000..000003}.tar' -m my-scorer -o scores.parquet --json
"""


@model_options(ScoreParams, exclude={"k"})
def score_command(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or .tar shards.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="scores.csv, .jsonl or .parquet (default: stdout)."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    *,
    given: dict[str, Any],
) -> None:
    from rich.console import Console

    if given.get("scorer") is None:
        raise ValueError("score: no --model given (a scorer folder written by qpt finetune)")
    params = validate_params(ScoreParams, {**given, "paths": paths}, given)
    if out is not None and out.suffix.lower() not in (".csv", ".jsonl", ".parquet"):
        raise ValueError(f"{out}: output must end in .csv, .jsonl or .parquet")
    console = Console(stderr=True)
    started = time.perf_counter()
    model = Path(params.scorer)
    scored = _score(model, params, console)
    summary = _summary(scored, str(model), out, time.perf_counter() - started)
    _write(scored.rows, out, json_out)
    if json_out:
        if out is None:
            summary["rows"] = [
                {"path": r.path, "score": r.score, "error": r.error} for r in scored.rows
            ]
        typer.echo(json.dumps(summary, indent=2))
    direction = "higher is better" if scored.scorer.higher_better else "lower is better"
    console.print(
        f"scored {summary['scored']} of {summary['inputs']} ({summary['errors']} unreadable), "
        f"{direction}, units of {summary['fitted_on']}" + (f" -> {out}" if out else "")
    )


def _score(model: Path, params: ScoreParams, console) -> Scored:
    """Score ``params.paths`` with a progress bar on ``console``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bench.score_stage import score_paths

    columns = (TextColumn("scoring"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("score", total=None)
        return score_paths(
            model, params.paths, batch_size=params.batch_size, workers=params.workers,
            device=params.device, on_start=lambda n: bar.update(task, total=n),
            advance=lambda k: bar.advance(task, k),
        )  # fmt: skip


def _summary(scored: Scored, model: str, out: Path | None, seconds: float) -> dict:
    scores, meta = scored.scores, scored.scorer.meta
    return {
        "model": model,
        "inputs": len(scored.rows),
        "scored": len(scores),
        "errors": len(scored.rows) - len(scores),
        "out": str(out) if out else None,
        "mean": sum(scores) / len(scores) if scores else None,
        "min": min(scores, default=None),
        "max": max(scores, default=None),
        "higher_better": scored.scorer.higher_better,
        "fitted_on": meta["fitted_on"]["dataset"],
        "score_range": meta["score"]["range"],
        "seconds": round(seconds, 2),
    }


def _write(rows: list, out: Path | None, json_out: bool) -> None:
    """Rows to ``out`` by its suffix, or as CSV on stdout (unless the JSON carries them)."""
    if out is not None:
        from bench.score_files import write_rows

        write_rows(rows, out)
    elif not json_out:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "score", "error"])
        for r in rows:
            writer.writerow([r.path, "" if r.score is None else repr(r.score), r.error])


def register(app: typer.Typer) -> None:
    """Add the ``score`` verb to the root app."""
    app.command("score", help=HELP)(score_command)
