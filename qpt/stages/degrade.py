"""Stage ``degrade``: degrade a folder of images with a preset (resumable).

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "degrade"
    name = "degraded"
    input_dir = "../shared/data/photos/kodak"
    preset = "kadid"
    copies = 2
"""

from __future__ import annotations

from typing import Any

from degrade.params import DegradeParams
from qpt.progress import rich_progress
from qpt.stage import StageContext

__all__ = ["DegradeParams", "run_degrade"]


def run_degrade(ctx: StageContext, params: DegradeParams) -> dict[str, Any]:
    """Degrade ``params.input_dir`` into ``ctx.out_dir`` (PNGs + ``params.jsonl``)."""
    from degrade.folder import degrade_folder

    seed = ctx.seed if params.seed is None else params.seed
    progress = None if ctx.json_mode else rich_progress(ctx.console, f"degrade ({params.preset})")
    stats = degrade_folder(
        params.input_dir,
        ctx.out_dir,
        params.preset,
        seed,
        params.copies,
        params.device,
        progress,
        params.max_pixels,
    )
    return {"preset": params.preset, "seed": seed, **stats}
