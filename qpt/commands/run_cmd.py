"""``qpt run``: run a named pipeline from ``pipelines.toml``, resumably."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from qpt.ranks import RANK_TIMEOUT_S

RUN_HELP = """\
Run a named pipeline from pipelines.toml (the default one if NAME is left out).

Every stage writes into [cyan]runs/NAME/STAGE/[/cyan]; [cyan]runs/NAME/run.json[/cyan] records the config, versions, git commit and per-stage timings. Rerunning skips completed stages, so an interrupted run resumes where it stopped; --force redoes everything. Changing a parameter redoes that stage and every stage after it.

[bold]Examples[/bold]

\b
  qpt run                                  # default pipeline, built-in corpus
  qpt run --list                           # pipelines and their stages
  qpt run cpu-smoke --set pretrain.steps=50
  qpt run default --until shard            # stop after the shard stage
  qpt run default --force --seed 1 --json  # redo all; JSON summary on stdout
  torchrun --nproc_per_node 8 --no-python qpt run hivit-base-8gpu

Under torchrun, rank 0 runs every stage and writes run.json; the other ranks wait for it and join only the stages that need every rank (pretrain, with DDP), then exit. Only one run at a time per run folder: a second is refused.
"""


def register(app: typer.Typer) -> None:
    app.command("run", help=RUN_HELP, no_args_is_help=False)(run)


def run(
    name: str | None = typer.Argument(
        None, help="Pipeline name (default: \\[run] default in the file)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="pipelines.toml to read (default: ./pipelines.toml, "
        "$QPT_PIPELINES, then the one shipped with qpt).",
        dir_okay=False,
    ),
    set_: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        metavar="STAGE.KEY=VALUE",
        help='Override a stage parameter; VALUE is TOML (20, 0.5, true, "text", [1, 2]).',
    ),
    seed: int | None = typer.Option(None, help="Seed of the run (overrides the file)."),
    runs_dir: Path | None = typer.Option(None, help="Where run folders go (default: runs/)."),
    force: bool = typer.Option(False, "--force", help="Redo stages that already completed."),
    until: str | None = typer.Option(None, help="Stop after this stage."),
    list_: bool = typer.Option(False, "--list", help="List pipelines and exit."),
    list_stages: bool = typer.Option(False, "--list-stages", help="List stage kinds and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print run.json on stdout at the end."),
    rank_timeout: float = typer.Option(
        RANK_TIMEOUT_S,
        min=1.0,
        help="Under torchrun: seconds the other ranks wait for rank 0 to reach pretraining "
        "(rank 0 runs the stages before it alone) before giving up.",
    ),
) -> None:
    from qpt.config import load_config, parse_override

    console = Console(stderr=True)
    if list_stages:
        _print_stage_kinds(console)
        return
    cfg = load_config(config)
    if list_:
        _print_pipelines(console, cfg)
        return
    overrides = dict(parse_override(item) for item in set_)
    pipeline = cfg.resolve(name, overrides=overrides, seed=seed, runs_dir=runs_dir)

    from qpt.report import print_run_table
    from qpt.runner import run_pipeline

    record = run_pipeline(pipeline, force=force, until=until, console=console,
                          json_mode=json_out, rank_timeout=rank_timeout)  # fmt: skip
    if record.get("rank", 0) != 0:  # another rank: rank 0 reports the run
        return
    if json_out:
        typer.echo(json.dumps(record, indent=2, default=str))
    else:
        print_run_table(console, record)
        console.print(f"run folder: [cyan]{pipeline.runs_dir / pipeline.name}[/cyan]")


def _print_pipelines(console: Console, cfg) -> None:
    table = Table(title=f"pipelines in {cfg.path}", title_justify="left")
    table.add_column("name", style="cyan")
    table.add_column("description")
    for name in cfg.names():
        mark = " (default)" if name == cfg.default else ""
        table.add_row(name + mark, cfg.describe(name))
    console.print(table)
    recipes = Table(title="recipes (a stage says recipe = NAME)", title_justify="left")
    for column in ("name", "kind", "description"):
        recipes.add_column(column, style="cyan" if column == "name" else None)
    for name, entry in cfg.data.recipe.items():
        recipes.add_row(name, entry.kind, entry.description)
    if cfg.data.recipe:
        console.print(recipes)


def _print_stage_kinds(console: Console) -> None:
    from qpt.stages import list_stages

    table = Table(title="stage kinds", title_justify="left")
    table.add_column("kind", style="cyan")
    table.add_column("what it does")
    table.add_column("module")
    for kind in list_stages():
        table.add_row(kind.name, kind.help, kind.module)
    console.print(table)
