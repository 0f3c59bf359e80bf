"""``qpt finetune``: fit a scorer on a benchmark or your own CSV (the science is in ``bench.fit``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.fit_stage import FinetuneParams  # pydantic only: cheap to import
from qpt.commands import with_default_checkpoint
from qpt.options import model_options, validate_params

HELP = """\
Fit a quality scorer and save it as one folder that [cyan]qpt score[/cyan] and [cyan]qpt.Scorer[/cyan] load.

DATASET is any [cyan]qpt bench list[/cyan] name found under --data-root, [cyan]synthetic[/cyan], or a CSV of path,score (paths relative to the CSV; an optional group column keeps a content on one side of the split). The official train split is used when the dataset has one, else the seeded 80/20 split [cyan]qpt bench[/cyan] calls split-00; the scorer records its own test SRCC/PLCC on the held-out part.

Heads: [cyan]linear[/cyan] (ridge on frozen features, seconds on a CPU) or [cyan]finetune[/cyan] (full fine-tuning: AdamW, layer-wise lr decay, warm-up + cosine, early stopping on a validation part; rerun the same command to resume).

[bold]Examples[/bold]

\b
  qpt finetune livec -c runs/default/pretrain/export --data-root ../shared/data -o my-scorer
  qpt finetune koniq -c export/ --head finetune --epochs 20 --device cuda -o koniq-scorer
  qpt finetune photos/scores.csv -c handcrafted -o photo-scorer
  qpt finetune synthetic -c random:hivit_nano -o toy-scorer
"""


@model_options(FinetuneParams)
def finetune_command(
    dataset: Annotated[
        str, typer.Argument(help="Benchmark name, synthetic, or a CSV file of path,score.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The scorer folder to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    *,
    given: dict[str, Any],
) -> None:
    from rich.console import Console

    from bench.fit_stage import fit_scorer_folder

    data = {**given, "dataset": dataset}
    with_default_checkpoint(data, given, "finetune")
    params = validate_params(FinetuneParams, data, given)
    summary = fit_scorer_folder(params, out, seed=seed, console=Console(stderr=True))
    if json_out:
        typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``finetune`` verb to the root app."""
    app.command("finetune", help=HELP)(finetune_command)
