"""``qpt convert``: weights under other projects' key names -> a qpt export folder.

Options only; the mapping and its checks live in :mod:`train.convert`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

HELP = """\
Convert a HiViT / MAE / timm ViT state dict into a qpt export folder that `qpt bench -c DIR`, `qpt pretrain --init DIR` and the scorer load.

SRC is a .safetensors, .pth or .pt file (read without running pickled code); the usual wrappers ('model', 'state_dict', 'module.' prefixes) are removed. Every key is checked: unknown or missing keys fail with one error listing them.

[bold]Sources[/bold] (--from)

\b
  hivit      the authors' supervised HiViT (zhangxiaosong18/hivit), or any HiViT-keyed
             encoder with or without a scoring head (e.g. the QPT V2 iqa.pth / iaa.pth,
             whose exact keys were not available offline: an unknown key set is listed)
  hivit-mae  the authors' HiViT MAE pretraining model (decoder optional)
  mae        MAE's ViT (facebookresearch/mae; decoder optional, as in mae_pretrain_vit_*.pth)
  timm-vit   a timm VisionTransformer with a class token (head dropped)

Head counts are not stored in any tensor without a relative-bias table: they come from the matching named size (hivit_tiny, vit_base, ...) or from --set num_heads=N / --set decoder_heads=N.

[bold]Examples[/bold]

\b
  qpt convert hivit_tiny_in1k.pth --from hivit -o encoders/hivit-t
  qpt convert mae_pretrain_vit_base.pth --from mae -o encoders/mae-b
  qpt convert mae_hivit_base_1600ep.pth --from hivit-mae -o init/hivit-b
  qpt pretrain --init init/hivit-b --set model='"mae_hivit_base"' --shards data/ --out runs/b
"""


def register(app: typer.Typer) -> None:
    app.command("convert", help=HELP)(convert)


def convert(
    src: Path = typer.Argument(..., help="State dict file (.safetensors, .pth, .pt)."),
    from_: str = typer.Option(
        ..., "--from", "-f", help="Key layout of SRC: hivit, hivit-mae, mae or timm-vit."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Export folder to write."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="num_heads, decoder_heads, img_size, mask_ratio or norm_pix_loss.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the export config as JSON."),
) -> None:
    from qpt.config import parse_override
    from train.convert import convert_file

    overrides = dict(parse_override(item) for item in set_)
    folder, conv = convert_file(src, from_, out, overrides)
    config = json.loads((folder / "config.json").read_text())
    if json_out:
        typer.echo(json.dumps(config, indent=2))
        return
    mae = f" + {conv.mae.model_name} (mae.safetensors)" if conv.mae is not None else ""
    dropped = f"; dropped {len(conv.dropped)} head key(s)" if conv.dropped else ""
    typer.echo(f"{src} ({from_}) -> {folder}: {config['model']}{mae}{dropped}")
