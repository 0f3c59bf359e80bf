"""``qpt finetune``: fit a scorer on a benchmark or your own CSV (the science is in ``bench.fit``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

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

DEFAULT_EXPORT = Path("runs/default/pretrain/export")


def finetune_command(
    dataset: Annotated[
        str, typer.Argument(help="Benchmark name, synthetic, or a CSV file of path,score.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The scorer folder to write.")],
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            "-c",
            help="Backbone: export folder, random:NAME, timm:NAME=FILE, open_clip:NAME=FILE or "
            f"handcrafted (default: {DEFAULT_EXPORT}).",
        ),
    ] = None,
    head: Annotated[
        Literal["linear", "finetune"], typer.Option(help="linear (ridge) or finetune.")
    ] = "linear",
    data_root: Annotated[
        Path | None,
        typer.Option(help="Folder holding the releases (default: ../shared/data if present)."),
    ] = None,
    split: Annotated[
        Literal["auto", "official", "random"],
        typer.Option(help="auto: official when published, else seeded 80/20."),
    ] = "auto",
    test_fraction: Annotated[float, typer.Option(help="Test part of a random split.")] = 0.2,
    val_fraction: Annotated[
        float, typer.Option(help="Validation part of the training side (finetune head).")
    ] = 0.1,
    max_items: Annotated[int, typer.Option(help="Cap on samples, seeded (0: all).")] = 0,
    crops: Annotated[int, typer.Option(help="Native-resolution crops per image, averaged.")] = 1,
    input_mode: Annotated[
        Literal["crops", "resize"], typer.Option(help="crops (native) or resize (squash).")
    ] = "crops",
    frames: Annotated[int, typer.Option(help="Frames sampled per video.")] = 4,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs (at most).")] = 10,
    lr: Annotated[float, typer.Option(help="Peak learning rate of the head's layer.")] = 2e-4,
    batch_size: Annotated[int, typer.Option(help="Fine-tuning batch size.")] = 16,
    layer_decay: Annotated[float, typer.Option(help="Layer-wise lr decay.")] = 0.75,
    patience: Annotated[int, typer.Option(help="Epochs without a better val SRCC.")] = 3,
    lower_better: Annotated[
        bool, typer.Option("--lower-better", help="CSV scores: lower is better (DMOS).")
    ] = False,
    allow_partial: Annotated[
        bool, typer.Option("--allow-partial", help="Use the files present when some are missing.")
    ] = False,
    photos: Annotated[str, typer.Option(help="Synthetic photos: builtin or a folder.")] = "builtin",
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or auto.")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the split and of training.")] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    from rich.console import Console

    from bench.fit_stage import FinetuneParams, run_finetune
    from qpt.stage import StageContext

    if checkpoint is None:
        if not DEFAULT_EXPORT.is_dir():
            raise ValueError(
                f"finetune: no --checkpoint given and {DEFAULT_EXPORT} does not exist "
                "(run `qpt run` first or pass -c)"
            )
        checkpoint = str(DEFAULT_EXPORT)
    try:
        params = FinetuneParams(
            dataset=dataset, checkpoint=checkpoint, head=head,
            data_root=str(data_root) if data_root else "auto", split=split,
            test_fraction=test_fraction, val_fraction=val_fraction, max_items=max_items or None,
            crops=crops, input_mode=input_mode, frames=frames, epochs=epochs, lr=lr,
            finetune_batch_size=batch_size, layer_decay=layer_decay, patience=patience,
            lower_better=lower_better, allow_partial=allow_partial, synthetic_photos=photos,
            device=device,
        )  # fmt: skip
    except Exception as exc:  # pydantic.ValidationError: one line per bad option
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        first = errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"finetune: --{where.replace('_', '-')}: {first['msg']}") from None
    console = Console(stderr=True)
    ctx = StageContext("cli", "finetune", "finetune", out.parent, out, seed=seed, console=console)
    summary = run_finetune(ctx, params)
    if json_out:
        typer.echo(json.dumps(summary, indent=2))


def register(app: typer.Typer) -> None:
    """Add the ``finetune`` verb to the root app."""
    app.command("finetune", help=HELP)(finetune_command)
