"""``qpt curate`` and ``qpt shard``: option parsing only (the science lives in ``curate``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from curate.params import CurateParams, ShardParams  # pydantic only: cheap to import

_C = {name: f.default for name, f in CurateParams.model_fields.items()}
_S = {name: f.default for name, f in ShardParams.model_fields.items()}

CURATE_HELP = """\
Curate a corpus into a Parquet manifest: one row per candidate, kept or rejected with a stable reason code.

Sources: [cyan]builtin[/cyan] (no download), [cyan]folder[/cyan] (any tree), [cyan]sa1b[/cyan] (SA-1B tars), [cyan]laion[/cyan] (LAION parquet + img2dataset output). Filters: resolution (headers only), richness (objects per image), CLIP prompts; then exact / near (pHash) / embedding dedup. Rerun the same command to resume.

[bold]Examples[/bold]

\b
  qpt curate --source builtin -o runs/curate
  qpt curate --source folder --path ~/photos --min-short-side 512 --workers 2
  qpt curate --source sa1b --path ~/sa1b/tars --min-richness 50
  qpt curate --source laion --path laion_images --metadata laion_part.parquet
  qpt curate --source laion --path i2d_out --metadata cc12m.parquet --url-col url --caption-col caption
  qpt curate --source folder --path imgs --clip-model ViT-B-32 --clip-weights vitb32.safetensors --positive "a sharp photo" --negative "a screenshot" --min-clip-score 0.2
  qpt curate --source sa1b --path tars --executor ray --address ray://head:10001
"""

SHARD_HELP = """\
Pack the kept rows of a curate manifest into WebDataset shards (original bytes, KEY.jpg + KEY.json).

Each shard-NNNNNN.tar gets a shard-NNNNNN.json stats file written last (present = complete); index.parquet maps keys to shards. Rerun to resume.

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


def curate_command(
    source: Annotated[str, typer.Option(help="builtin, folder, sa1b or laion.")] = "builtin",
    path: Annotated[
        Path | None, typer.Option(help="Input folder / tar(s) / img2dataset output.")
    ] = None,
    metadata: Annotated[Path | None, typer.Option(help="LAION parquet file or folder.")] = None,
    extra_folder: Annotated[
        list[Path] | None,
        typer.Option(help="Another folder tree whose files join the candidates; repeatable."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("runs/curate"),
    min_short_side: Annotated[int, typer.Option(help="Reject below this short side (px).")] = _C[
        "min_short_side"
    ],
    min_pixels: Annotated[int, typer.Option(help="Reject below this many pixels.")] = _C[
        "min_pixels"
    ],
    max_aspect: Annotated[float, typer.Option(help="Reject above this aspect (0: off).")] = _C[
        "max_aspect"
    ],
    max_pixels: Annotated[int, typer.Option(help="Decompression-bomb cap (pixels).")] = _C[
        "max_pixels"
    ],
    max_punsafe: Annotated[float, typer.Option(help="LAION punsafe cap (-1: off).")] = _C[
        "max_punsafe"
    ],
    max_pwatermark: Annotated[float, typer.Option(help="LAION pwatermark cap (-1: off).")] = _C[
        "max_pwatermark"
    ],
    min_laion_similarity: Annotated[
        float, typer.Option(help="LAION similarity floor (-1: off).")
    ] = _C["min_laion_similarity"],
    url_col: Annotated[str, typer.Option(help="LAION metadata URL column.")] = _C["url_col"],
    caption_col: Annotated[str, typer.Option(help="LAION caption column.")] = _C["caption_col"],
    width_col: Annotated[str, typer.Option(help="LAION width column.")] = _C["width_col"],
    height_col: Annotated[str, typer.Option(help="LAION height column.")] = _C["height_col"],
    similarity_col: Annotated[str, typer.Option(help="LAION similarity column.")] = _C[
        "similarity_col"
    ],
    punsafe_col: Annotated[str, typer.Option(help="LAION punsafe column.")] = _C["punsafe_col"],
    pwatermark_col: Annotated[str, typer.Option(help="LAION pwatermark column.")] = _C[
        "pwatermark_col"
    ],
    aesthetic_col: Annotated[str, typer.Option(help="LAION aesthetic column.")] = _C[
        "aesthetic_col"
    ],
    richness: Annotated[bool, typer.Option(help="Measure objects per image.")] = True,
    min_richness: Annotated[float | None, typer.Option(help="Reject below this.")] = None,
    richness_scale: Annotated[float, typer.Option(help="Calibration of the estimate.")] = _C[
        "richness_scale"
    ],
    clip_model: Annotated[str | None, typer.Option(help="open_clip architecture.")] = None,
    clip_weights: Annotated[str | None, typer.Option(help="Weight file, or tag online.")] = None,
    clip_config: Annotated[Path | None, typer.Option(help="JSON config (custom arch).")] = None,
    positive: Annotated[list[str] | None, typer.Option(help="Positive prompt; repeatable.")] = None,
    negative: Annotated[list[str] | None, typer.Option(help="Negative prompt; repeatable.")] = None,
    min_clip_score: Annotated[float | None, typer.Option(help="CLIP score floor.")] = None,
    negative_margin: Annotated[float | None, typer.Option(help="Negative-prompt margin.")] = None,
    phash_radius: Annotated[int, typer.Option(help="Near-dup Hamming radius (-1: off).")] = _C[
        "phash_radius"
    ],
    embedding_threshold: Annotated[float, typer.Option(help="Embedding-dup cosine (0: off).")] = _C[
        "embedding_threshold"
    ],
    no_exact: Annotated[bool, typer.Option("--no-exact-dedup", help="Keep byte copies.")] = False,
    unit_size: Annotated[int, typer.Option(help="Files per unit of work (folders).")] = _C[
        "unit_size"
    ],
    workers: Annotated[int, typer.Option(help="Worker processes (0: in process).")] = 0,
    executor: Annotated[str, typer.Option(help="process or ray.")] = "process",
    address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    report: Annotated[bool, typer.Option(help="Write report.png and rejections.png.")] = True,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    from curate.pipeline import curate

    params = CurateParams(
        source=source,
        path=path,
        metadata=metadata,
        extra_folders=extra_folder or [],
        min_short_side=min_short_side,
        min_pixels=min_pixels,
        max_aspect=max_aspect or None,
        max_pixels=max_pixels,
        max_punsafe=None if max_punsafe < 0 else max_punsafe,
        max_pwatermark=None if max_pwatermark < 0 else max_pwatermark,
        min_laion_similarity=None if min_laion_similarity < 0 else min_laion_similarity,
        url_col=url_col,
        caption_col=caption_col,
        width_col=width_col,
        height_col=height_col,
        similarity_col=similarity_col,
        punsafe_col=punsafe_col,
        pwatermark_col=pwatermark_col,
        aesthetic_col=aesthetic_col,
        richness=richness,
        min_richness=min_richness,
        richness_scale=richness_scale,
        clip_model=clip_model,
        clip_weights=clip_weights,
        clip_config=clip_config,
        positive_prompts=positive or ["a photo"],
        negative_prompts=negative or [],
        min_clip_score=min_clip_score,
        negative_margin=negative_margin,
        phash_radius=None if phash_radius < 0 else phash_radius,
        embedding_threshold=embedding_threshold or None,
        dedup_exact=not no_exact,
        unit_size=unit_size,
        workers=workers,
        executor=executor,
        address=address,
        report=report,
    )
    _show(curate(params, out), "curate", json_out)


def shard_command(
    manifest: Annotated[Path, typer.Argument(help="manifest.parquet written by qpt curate.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("runs/shards"),
    maxcount: Annotated[int, typer.Option(help="Samples per shard at most.")] = _S["maxcount"],
    maxsize: Annotated[int, typer.Option(help="Bytes per shard at most.")] = _S["maxsize"],
    shuffle: Annotated[bool, typer.Option(help="Shuffle rows (seeded) before packing.")] = False,
    seed: Annotated[int, typer.Option(help="Shuffle seed.")] = 0,
    max_side: Annotated[int | None, typer.Option(help="Downscale above this long side.")] = None,
    resize_format: Annotated[str, typer.Option(help="png (lossless) or jpeg.")] = "png",
    jpeg_quality: Annotated[int, typer.Option(help="Resized JPEG quality (>= 95).")] = _S[
        "jpeg_quality"
    ],
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    from curate.shard import write_shards

    params = ShardParams(
        manifest=manifest,
        maxcount=maxcount,
        maxsize=maxsize,
        shuffle=shuffle,
        max_side=max_side,
        resize_format=resize_format,
        jpeg_quality=jpeg_quality,
    )
    _show(write_shards(manifest, out, params, seed=seed), "shard", json_out)


def _show(summary: dict, title: str, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps(summary))
        return
    from rich.console import Console

    from curate.report import summary_table

    Console().print(summary_table(summary, title))
