"""``qpt curate`` and ``qpt shard``: their options are the fields of ``CurateParams`` and
``ShardParams`` (the science lives in ``curate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from curate.params import CurateParams, ShardParams  # pydantic only: cheap to import
from qpt.options import model_options, validate_params

Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]

CURATE_HELP = """\
Curate a corpus into a Parquet manifest: one row per candidate, kept or rejected with a stable reason code.

Sources: [cyan]builtin[/cyan] (no download), [cyan]folder[/cyan] (any tree), [cyan]sa1b[/cyan] (SA-1B tars), [cyan]laion[/cyan] (LAION parquet + img2dataset output). Filters: resolution (headers only), richness (objects per image), CLIP prompts; then exact / near (pHash) / embedding dedup. Rerun the same command to resume; a second run into the same output folder is refused while the first is alive.

[bold]Examples[/bold]

\b
  qpt curate --source builtin -o runs/curate
  qpt curate --source folder --path imgs --max-aspect none --phash-radius none  # filters off
  qpt curate --source folder --path ~/photos --min-short-side 512 --workers 2
  qpt curate --source sa1b --path ~/sa1b/tars --min-richness 50
  qpt curate --source laion --path laion_images --metadata laion_part.parquet
  qpt curate --source laion --path i2d_out --metadata cc12m.parquet --url-col url --caption-col caption
  qpt curate --source folder --path imgs --clip-model ViT-B-32 --clip-weights vitb32.safetensors --positive "a sharp photo" --negative "a screenshot" --min-clip-score 0.2
  qpt curate --source sa1b --path tars --executor ray --address ray://head:10001
"""

SHARD_HELP = """\
Pack the kept rows of a curate manifest into WebDataset shards (original bytes, KEY.jpg + KEY.json).

Each shard-NNNNNN.tar gets a shard-NNNNNN.json stats file written last (present = complete); index.parquet maps keys to shards. Every original is checked against the SHA-256 the manifest recorded: a file changed since curation is refused. Rerun to resume; a second run into the same output folder is refused while the first is alive.

[bold]Examples[/bold]

\b
  qpt shard runs/curate/manifest.parquet -o runs/shards
  qpt shard runs/curate/manifest.parquet -o shards --maxcount 5000 --maxsize 1000000000 --shuffle
  qpt shard manifest.parquet -o shards --max-side 1024 --resize-format jpeg --jpeg-quality 97
"""


def register(app: typer.Typer) -> None:
    """Add ``curate`` and ``shard`` to the root app."""
    app.command("curate", help=CURATE_HELP)(curate_command)
    app.command("shard", help=SHARD_HELP)(shard_command)


@model_options(CurateParams)
def curate_command(
    out: Out = Path("runs/curate"), json_out: JsonOut = False, *, given: dict[str, Any]
) -> None:
    from curate.pipeline import curate

    params = validate_params(CurateParams, given, given)
    _show(curate(params, out), "curate", json_out)


@model_options(ShardParams, exclude={"manifest"})
def shard_command(
    manifest: Annotated[Path, typer.Argument(help="manifest.parquet written by qpt curate.")],
    out: Out = Path("runs/shards"),
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 0,
    json_out: JsonOut = False,
    *,
    given: dict[str, Any],
) -> None:
    from curate.shard import write_shards

    params = validate_params(ShardParams, {**given, "manifest": manifest}, given)
    _show(write_shards(manifest, out, params, seed=seed), "shard", json_out)


def _show(summary: dict, title: str, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(summary))
        return
    from rich.console import Console

    from curate.report import summary_table

    Console().print(summary_table(summary, title))
