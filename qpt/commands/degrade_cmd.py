"""``qpt degrade``: option parsing only (the science lives in ``degrade``).

The options of ``qpt degrade run`` are the fields of :class:`degrade.params.DegradeParams`;
the command is built when it is asked for, because importing ``degrade`` imports torch and
``qpt --help`` must stay fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from qpt.options import model_options, validate_params

GROUP_HELP = """\
Degrade images with a preset ([cyan]qpt-v2[/cyan], [cyan]realesrgan[/cyan], [cyan]kadid[/cyan], [cyan]imagenet-c[/cyan], ...) and record every parameter, or draw the op gallery.

[bold]Examples[/bold]

\b
  qpt degrade photos/ out/ --preset kadid --seed 0
  qpt degrade photos/ out/ --preset qpt-v2 --copies 4 --device cuda
  qpt degrade gallery gallery.png
  qpt degrade gallery kadid.png --tag kadid --size 160
  qpt degrade ops --tag imagenet-c
"""

RUN_HELP = """\
Degrade every image under IN_DIR into OUT_DIR as PNG, with OUT_DIR/params.jsonl holding, per image, the ops applied, their order and values (replayable with degrade.Degrader.replay).

Each output keeps its input's relative path and extension, plus .png (a/x.jpg -> a/x.jpg.png; with --copies N, a/x.jpg.0.png ... ), so x.jpg and x.png never overwrite each other.

Reads PNG/JPEG/WebP/GIF (decompression-bomb capped); unreadable files, and images above --max-pixels (default 4096 x 4096, which bounds memory: ~40-70 bytes per pixel), are recorded as errors, never dropped. Rerun the same command to resume.

[bold]Examples[/bold]

\b
  qpt degrade photos/ out/ --preset kadid --seed 0
  qpt degrade ../shared/data/photos/kodak runs/kodak-qpt --preset qpt-v2 --copies 4
"""

GALLERY_HELP = """\
Write a PNG grid: one row per op, the clean photo then severity levels 1-5.

Uses scikit-image's astronaut photo unless --image is given.

[bold]Examples[/bold]

\b
  qpt degrade gallery gallery.png
  qpt degrade gallery blur.png --op gaussian_blur --op lens_blur --op motion_blur
  qpt degrade gallery kodak.png --image ../shared/data/photos/kodak/kodim23.png --tag kadid
"""


class _DefaultToRun(TyperGroup):
    """``qpt degrade IN OUT`` means ``qpt degrade run IN OUT``; ``run`` is built on demand."""

    def list_commands(self, ctx: Any) -> list[str]:
        return ["run", *super().list_commands(ctx)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name == "run" and "run" not in self.commands:
            self.add_command(_build_run_command(), "run")
        return super().get_command(ctx, name)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in ("run", *self.commands) and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _build_run_command() -> Any:
    """The click command of ``qpt degrade run`` (imports ``degrade``, hence torch)."""
    from degrade.params import DegradeParams

    sub = typer.Typer(rich_markup_mode="rich", add_completion=False)
    sub.command("run", help=RUN_HELP)(
        model_options(DegradeParams, exclude={"input_dir"})(run_command)
    )
    return typer.main.get_command(sub)


def register(app: typer.Typer) -> None:
    """Add the ``degrade`` group to the root app."""
    group = typer.Typer(
        cls=_DefaultToRun, help=GROUP_HELP, no_args_is_help=True, rich_markup_mode="rich"
    )
    group.command("gallery", help=GALLERY_HELP)(gallery_command)
    group.command("ops", help="List registered ops (with tags and levels) and presets.")(
        ops_command
    )
    app.add_typer(group, name="degrade")


def run_command(
    in_dir: Annotated[Path, typer.Argument(help="Folder of images (recursive).")],
    out_dir: Annotated[Path, typer.Argument(help="Output folder (PNG + params.jsonl).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    *,
    given: dict[str, Any],
) -> None:
    from rich.console import Console

    from degrade.folder import degrade_folder
    from degrade.params import DegradeParams
    from qpt.progress import rich_progress

    p = validate_params(DegradeParams, {**given, "input_dir": in_dir}, given)
    seed = 0 if p.seed is None else p.seed
    progress = None if as_json else rich_progress(Console(stderr=True), "degrade")
    stats = degrade_folder(
        in_dir, out_dir, p.preset, seed, p.copies, p.device, progress, p.max_pixels
    )
    summary = {"preset": p.preset, "seed": seed, **stats, "params": str(out_dir / "params.jsonl")}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    from rich.table import Table

    table = Table(title=f"qpt degrade ({p.preset})", show_header=False)
    for k, v in summary.items():
        table.add_row(k, str(v))
    Console().print(table)


def gallery_command(
    out: Annotated[Path, typer.Argument(help="PNG file to write.")] = Path("degrade-gallery.png"),
    image: Annotated[Path | None, typer.Option(help="Photo to degrade (PNG/JPEG).")] = None,
    op: Annotated[list[str] | None, typer.Option(help="Op name; repeatable.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only ops tagged so (kadid, ...).")] = None,
    size: Annotated[int, typer.Option(help="Tile side (px).")] = 128,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    import numpy as np
    import torch
    from torchvision.io import write_png

    import degrade
    from degrade.folder import read_image
    from degrade.gallery import gallery
    from degrade.ops.resize import resize_to

    if size < 32:
        raise ValueError(f"gallery: --size must be >= 32, got {size}")
    if image is None:
        from skimage import data

        x = torch.from_numpy(np.ascontiguousarray(data.astronaut())).permute(2, 0, 1)[None]
    else:
        x = read_image(image)
    x = resize_to(x.float() / 255, (size, size), "area").clamp(0, 1)
    names = op or degrade.list_ops(tag)
    if not names:
        raise ValueError(f"gallery: no op tagged {tag!r}")
    grid = gallery(x, names, seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(grid, str(out))
    typer.echo(f"wrote {out} ({len(names)} ops x 5 levels, {grid.shape[2]}x{grid.shape[1]} px)")


def ops_command(
    tag: Annotated[str | None, typer.Option(help="Only ops tagged so.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    import degrade

    rows = []
    for name in degrade.list_ops(tag):
        s = degrade.get_op(name)
        rows.append(
            {
                "op": name,
                "family": s.family,
                "tags": sorted(s.tags),
                "params": [p.to_dict() for p in s.params],
                "doc": s.doc,
            }
        )
    if as_json:
        typer.echo(json.dumps({"ops": rows, "presets": degrade.list_presets()}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="degrade ops")
    for col in ("op", "family", "tags", "levels 1-5"):
        table.add_column(col)
    for r in rows:
        lv = "; ".join(f"{p['name']} {p['levels']}" for p in r["params"] if p.get("levels"))
        table.add_row(r["op"], r["family"], ",".join(r["tags"]), lv)
    Console().print(table)
    typer.echo("presets: " + ", ".join(degrade.list_presets()))
