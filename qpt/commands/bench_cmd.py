"""``qpt bench``: score a backbone on IQA / IAA / VQA benchmarks (science lives in ``bench``).

``qpt bench --all`` runs every benchmark found, ``qpt bench run NAME...`` named ones,
``qpt bench list`` shows what is found and the layout expected for the rest. The group leaves
room for more subcommands (``qpt bench speed ...``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.params import BenchParams  # pydantic only: cheap to import
from qpt.commands import with_default_checkpoint
from qpt.options import model_options, validate_params

BENCH_HELP = """\
Score a pretrained backbone (and its random-init twin) on quality / aesthetics benchmarks.

Datasets are read in the layout their authors ship (no conversion): [cyan]qpt bench list[/cyan] shows the expected files. [cyan]synthetic[/cyan] (built-in photos x degrade ops x 5 levels) always runs. Results go to OUT/results.json, results.md and results.png; an interrupted run resumes per (dataset, split, head).

[bold]Examples[/bold]

\b
  qpt bench --all -c runs/default/pretrain/export --data-root ~/datasets
  qpt bench run livec koniq -c export/ --splits 10 --max-items none --crops 5
  qpt bench run synthetic -c random:hivit_nano --head linear --head finetune
  qpt bench run livec -c export/ --extra handcrafted   # classical NR floor row
  qpt bench run ava -c timm:resnet50=weights/resnet50.safetensors
  qpt bench list --data-root ~/datasets
"""


DataRoot = Annotated[
    Path | None,
    typer.Option(help="Folder holding the dataset releases (default: ../shared/data if present)."),
]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
Seed = Annotated[int, typer.Option(help="Seed of splits, subsets and the random-init twin.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print results.json on stdout.")]


bench_app = typer.Typer(
    help=BENCH_HELP,
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode="rich",
)
"""The ``qpt bench`` group; more subcommands attach here (``bench_app.add_typer(speed, ...)``)."""


def register(app: typer.Typer) -> None:
    """Add the ``bench`` group to the root app."""
    from qpt.commands import speed_cmd

    speed_cmd.register(bench_app)
    app.add_typer(bench_app, name="bench")


def _execute(datasets: list[str], given: dict[str, Any], out: Path, seed: int, json_out: bool):
    """Run ``datasets`` with the options the user typed (the rest: ``BenchParams`` defaults)."""
    from rich.console import Console

    from qpt.stage import StageContext
    from qpt.stages.bench import run_bench

    data = {**given, "datasets": datasets}
    with_default_checkpoint(data, given, "bench")
    params = validate_params(BenchParams, data, given)
    out.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(
        "cli", "bench", "bench", out.parent, out, seed=seed, console=Console(stderr=True)
    )
    run_bench(ctx, params)
    if json_out:
        typer.echo((out / "results.json").read_text())


@bench_app.callback(invoke_without_command=True)
@model_options(BenchParams, exclude={"datasets"})
def bench_all(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Run every benchmark found.")] = False,
    out: Out = Path("runs/bench"),
    seed: Seed = 0,
    json_out: JsonOut = False,
    *,
    given: dict[str, Any],
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    if not all_:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    _execute(["all"], given, out, seed, json_out)


@bench_app.command("run", help="Run named benchmarks: " + BENCH_HELP)
@model_options(BenchParams, exclude={"datasets"})
def bench_run(
    datasets: Annotated[list[str], typer.Argument(help="Benchmark names (qpt bench list).")],
    out: Out = Path("runs/bench"),
    seed: Seed = 0,
    json_out: JsonOut = False,
    *,
    given: dict[str, Any],
) -> None:
    _execute(datasets, given, out, seed, json_out)


@bench_app.command("list", help="List benchmarks: found under --data-root, or their layout.")
def bench_list(
    data_root: DataRoot = None,
    json_out: JsonOut = False,
) -> None:
    from rich.console import Console
    from rich.table import Table

    from bench.datasets import expected_layout, find_datasets, list_specs
    from bench.params import default_data_root

    root = data_root or default_data_root()
    if data_root is not None and not data_root.is_dir():
        raise FileNotFoundError(f"bench: data root {data_root} not found")
    found, _ = find_datasets(root) if root else ({}, [])
    rows = [
        {
            "name": s.name,
            "title": s.title,
            "task": s.task,
            "protocol": s.protocol,
            "found": str(found[s.name]) if s.name in found else None,
            "layout": expected_layout(s),
        }
        for s in list_specs()
    ]
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = Console()
    table = Table(title=f"benchmarks under {root or '(no data root)'}")
    for col in ("name", "title", "task", "protocol", "found at"):
        table.add_column(col)
    table.add_row("synthetic", "built-in photos x degrade", "iqa", "random", "(always)")
    for r in rows:
        table.add_row(
            r["name"], r["title"], r["task"], r["protocol"], r["found"] or "[yellow]missing[/]"
        )
    console.print(table)
    for r in rows:
        if r["found"] is None:
            console.print(r["layout"], highlight=False)
