"""``qpt bench speed``: the speed benchmarks of each stage (ratios against a reference
measured in the same run; never part of the test suite)."""

from __future__ import annotations

import json

import typer

SPEED_HELP = """\
Speed benchmarks: each prints rates and the ratio against a reference measured in the same run on the same machine (no absolute targets are asserted).

[bold]Examples[/bold]

\b
  qpt bench speed degrade                # presets vs a per-image loop
  qpt bench speed degrade --device cuda  # the same, batched on the GPU
  qpt bench speed degrade --per-op       # each op alone, worst ratio first
  qpt bench speed degrade --peers        # each op vs albumentations & co.
  qpt bench speed degrade-calls          # GPU-path launches, counted on CPU
  qpt bench speed curate --full          # header scan, pHash, dedup, shards, end to end
  qpt bench speed pretrain               # model alone vs the data pipeline
  qpt bench speed all --json             # everything, JSON on stdout
"""

speed_app = typer.Typer(help=SPEED_HELP, no_args_is_help=True, rich_markup_mode="rich")


def register(bench_app: typer.Typer) -> None:
    bench_app.add_typer(speed_app, name="speed")


def _emit(result: dict, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(result, indent=2, default=str))


@speed_app.command(
    "degrade", help="Presets qpt-v2 and kadid, batched vs a per-image OpenCV/PIL loop."
)
def degrade_speed(
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    batch: int | None = typer.Option(
        None, min=1, help="Images per batch (3 x 224 x 224); default 64, 32 with --peers."
    ),
    repeats: int = typer.Option(3, min=1, help="Timed repeats (the best is kept)."),
    threads: int = typer.Option(
        1,
        min=0,
        help="CPU threads on both sides (0: library default). On CPU the batched side runs "
        "images on up to 2 of them (Degrader workers), OpenCV splits each op.",
    ),
    per_op: bool = typer.Option(
        False, "--per-op", help="Each op alone at level 3 instead (where the ratios come from)."
    ),
    peers: bool = typer.Option(
        False,
        "--peers",
        help="Each op against albumentations, imagecorruptions and kornia instead (CPU, one "
        "thread, uint8 and float; needs the 'peers' extra). --batch sets the crops (default "
        "32 here); --chart writes a PNG of the ratios.",
    ),
    chart: str = typer.Option("", help="With --peers: PNG path for the chart of ratios."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    if peers:
        _degrade_peers(batch or 32, repeats, chart, json_out)
        return
    from qpt.speed import degrade_speed as speed

    batch = batch or 64
    if per_op:
        result = speed.per_op(device, batch, repeats, threads or None)
        typer.echo(speed.report_per_op(result), err=json_out)
    else:
        result = speed.run(device, batch, repeats, threads or None)
        typer.echo(speed.report(result), err=json_out)
    _emit(result, json_out)


def _degrade_peers(batch: int, repeats: int, chart: str, json_out: bool) -> None:
    from qpt.speed import degrade_peers

    try:
        result = degrade_peers.run(batch=batch, repeats=repeats)
    except degrade_peers.PeersMissing as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(degrade_peers.report(result), err=json_out)
    if chart:
        degrade_peers.chart(result, chart)
        typer.echo(f"chart: {chart}", err=True)
    _emit(result, json_out)


@speed_app.command(
    "degrade-calls",
    help="What a batch costs the GPU path (op calls, kernel launches, host-to-device copies, "
    "device syncs), counted on any machine: the GPU forms run on CPU tensors. On a GPU a batch "
    "of 64 waits on this host work, so fewer is faster; the counts are exact for a seed.",
)
def degrade_calls(
    preset: list[str] = typer.Option(
        ["qpt-v2", "kadid", "realesrgan"], "--preset", help="Preset(s) to count (repeatable)."
    ),
    batch: int = typer.Option(64, min=1, help="Images per batch."),
    size: int = typer.Option(224, min=8, help="Image side (some forms depend on it)."),
    seeds: int = typer.Option(3, min=1, help="Batches (plan seeds) averaged."),
    by_call: bool = typer.Option(False, "--by-call", help="A row per call kind (op) too."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    import degrade
    from qpt.speed import degrade_calls as calls

    for p in preset:  # an unknown name fails here, with the library's message, before counting
        degrade.get_preset(p)
    rows = [calls.count(p, batch, size, seeds) for p in preset]
    typer.echo(calls.report(rows, by_call), err=json_out)
    _emit({"degrade_calls": rows}, json_out)


@speed_app.command(
    "curate",
    help="Header scan vs full decode, pHash, dedup scaling, shard writing vs copy, and curate "
    "end to end vs a full decode of the same files (../shared/data/photos when present).",
)
def curate_speed(
    full: bool = typer.Option(
        False,
        "--full",
        help="Larger sizes (1M-hash dedup, 100k embeddings); end to end also with the report "
        "pictures and with the reference richness estimator.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    from qpt.speed import curate_speed as speed

    _emit(speed.run(quick=not full), json_out)


@speed_app.command(
    "pretrain", help="Training img/s: model alone vs the full data pipeline (and MFU on CUDA)."
)
def pretrain_speed(
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    full: bool = typer.Option(False, "--full", help="More steps; adds HiViT-T at 224 on CPU."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    from qpt.speed import pretrain_speed as speed

    _emit(speed.run(device, quick=not full), json_out)


@speed_app.command("all", help="Every speed benchmark in turn.")
def all_speed(
    device: str = typer.Option("cpu", help="cpu, cuda or cuda:N."),
    full: bool = typer.Option(False, "--full", help="The larger sizes of each benchmark."),
    json_out: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    from qpt.speed import curate_speed, degrade_speed, pretrain_speed

    deg = degrade_speed.run(device)
    typer.echo(degrade_speed.report(deg), err=json_out)
    result = {
        "degrade": deg,
        "curate": curate_speed.run(quick=not full),
        "pretrain": pretrain_speed.run(device, quick=not full),
    }
    _emit(result, json_out)
