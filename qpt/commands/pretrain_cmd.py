"""``qpt pretrain``: MIM pretraining on shards (one CPU to many GPUs via torchrun), and
``qpt pretrain export``. Options only (the fields of ``PretrainParams``); the work is in
:mod:`train`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from qpt.options import model_options, validate_params
from train.config import PretrainParams  # pydantic only: cheap to import

PRETRAIN_HELP = """\
Pretrain a HiViT / ViT masked autoencoder on degraded WebDataset shards.

Starts from a named recipe (--recipe, a [recipe.NAME] table of pipelines.toml) and changes parameters with their options or --set KEY=VALUE. Rerunning with the same --out continues from the newest checkpoint; a finished run is not redone. At the end, OUT/export holds the encoder that `qpt bench` loads.

[bold]Recipes[/bold] shipped: cpu-smoke (a short CPU run), hivit-tiny-1gpu, hivit-base-8gpu.

[bold]Examples[/bold]

\b
  qpt pretrain --shards runs/default/shard --out runs/mine/pretrain
  qpt pretrain --shards 'data/shard-{000000..000127}.tar' --out runs/t \\
      --recipe hivit-tiny-1gpu --batch-size 128
  qpt pretrain --shards data/ --out runs/t --target clean --degrade none
  qpt pretrain --shards data/ --out runs/t -s msff=false -s degrade='"kadid"'
  qpt pretrain --recipe hivit-tiny-1gpu --show     # print resolved parameters
  qpt pretrain --shards data/ --out runs/t --stop-after 500  # rerun goes on
  qpt convert mae_hivit_base.pth --from hivit-mae -o init/hivit-b
  qpt pretrain --init init/hivit-b --recipe hivit-base-8gpu --shards data/ --out runs/b

\b
  # one node, 8 GPUs
  torchrun --nproc_per_node 8 -m qpt pretrain --recipe hivit-base-8gpu \\
      --shards 'data/shard-{000000..004095}.tar' --out runs/hivit-b
  # 4 nodes x 8 GPUs, run on every node (effective batch 128 x 32 = 4096)
  torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d \\
      --rdzv_endpoint HEAD_HOST:29500 --rdzv_id hivit-b -m qpt pretrain \\
      --recipe hivit-base-8gpu --set accum_steps=1 --set batch_size=128 \\
      --shards 'data/shard-{000000..004095}.tar' --out /shared/runs/hivit-b
"""

EXPORT_HELP = """\
Write OUT_DIR/encoder.safetensors + config.json (what `qpt bench` loads) from a checkpoint.

RUN is a pretrain output folder (its newest checkpoint is used), its checkpoints/ folder, or one checkpoints/step-XXXXXXXX folder.

[bold]Examples[/bold]

\b
  qpt pretrain export runs/mine/pretrain runs/mine/encoder
  qpt pretrain export runs/mine/pretrain/checkpoints/step-00001000 encoders/step1000
"""

app = typer.Typer(
    help=PRETRAIN_HELP,
    rich_markup_mode="rich",
    invoke_without_command=True,
    no_args_is_help=False,
)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pretrain")


@app.callback()
@model_options(PretrainParams)
def pretrain(
    ctx: typer.Context,
    out: Path | None = typer.Option(None, help="Output folder (checkpoints, metrics, export)."),
    recipe: str = typer.Option("cpu-smoke", help="Starting parameters (see above)."),
    set_: list[str] = typer.Option(
        [], "--set", "-s", metavar="KEY=VALUE", help="Change a parameter; VALUE is TOML."
    ),
    seed: int = typer.Option(0, help="Seed of data order, crops, masks and degradations."),
    stop_after: int | None = typer.Option(
        None, min=1, help="Stop (with a checkpoint) after N steps; a rerun continues."
    ),
    show: bool = typer.Option(False, "--show", help="Print the resolved parameters and exit."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON on stdout."),
    *,
    given: dict[str, Any],
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    params = _resolve(recipe, set_, given)
    if show:
        typer.echo(json.dumps(params.model_dump(mode="json"), indent=2))
        return
    if params.shards is None:
        raise ValueError("qpt pretrain: --shards is required (a folder, pattern or glob)")
    if out is None:
        raise ValueError("qpt pretrain: --out is required")
    _train(params, out, seed, stop_after, json_out)


def _resolve(recipe: str, set_: list[str], given: dict[str, Any]) -> PretrainParams:
    """The recipe's parameters, then ``--set KEY=VALUE``, then the typed options."""
    from qpt.config import load_config, parse_override

    cfg = load_config()
    try:
        table = cfg.recipe(recipe, "pretrain")
    except ValueError as exc:
        raise ValueError(f"{cfg.path}: {exc}") from None
    overrides = dict(parse_override(item) for item in set_)
    return validate_params(PretrainParams, {**table, **overrides, **given}, given)


def _train(
    params: PretrainParams, out: Path, seed: int, stop_after: int | None, json_out: bool
) -> None:
    """Run (or resume) pretraining; rank 0 prints the summary."""
    import os

    from rich.console import Console

    from train.engine import pretrain as run

    console = Console(stderr=True)
    summary = run(
        params,
        out,
        params.shards,
        seed=seed,
        console=console,
        stop_after=stop_after,
        progress=not json_out,
    )
    if os.environ.get("RANK", "0") != "0":
        return
    if json_out:
        typer.echo(json.dumps(summary, indent=2))
        return
    from rich.table import Table

    table = Table(title="pretrain", show_header=False)
    for k, v in summary.items():
        if not isinstance(v, dict):
            table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console.print(table)
    if not summary["complete"]:
        console.print(f"stopped at step {summary['steps']}; rerun the same command to continue")


@app.command("export", help=EXPORT_HELP)
def export(
    run: Path = typer.Argument(..., help="Pretrain folder, checkpoints/ or a step folder."),
    out_dir: Path = typer.Argument(..., help="Where encoder.safetensors + config.json go."),
) -> None:
    from train.checkpoint import export_encoder, find_checkpoint

    ckpt = find_checkpoint(run)
    export_encoder(ckpt, out_dir)
    typer.echo(f"exported {ckpt} -> {out_dir}")
