"""Pipeline stage ``degrade``: degrade a folder of images with a preset (resumable).

TOML example::

    [[stages]]
    name = "degraded"
    kind = "degrade"
    input_dir = "../shared/data/photos/kodak"
    preset = "kadid"
    copies = 2
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from degrade.presets import list_presets

if TYPE_CHECKING:
    from qpt.stage import StageContext


class DegradeParams(BaseModel):
    """Parameters of the ``degrade`` stage.

    Attributes:
        input_dir: folder of images to degrade (recursive).
        preset: a name from ``degrade.list_presets()``.
        seed: run seed (None: the pipeline's seed); each image's generator derives from it.
        copies: degraded versions per image.
        device: ``cpu`` or ``cuda``.
    """

    model_config = ConfigDict(extra="forbid")

    input_dir: Path
    preset: str = "qpt-v2"
    seed: int | None = None
    copies: int = Field(1, ge=1, le=1000)
    device: str = "cpu"

    @field_validator("preset")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in list_presets():
            raise ValueError(f"unknown preset {v!r}; choose from {list_presets()}")
        return v


def rich_progress(console: Any, label: str):
    """A ``progress(iterator, total)`` wrapper drawing a rich progress bar on ``console``."""
    from rich.progress import track

    def wrap(it: Iterator[Any], total: int) -> Iterator[Any]:
        yield from track(it, total=total, description=label, console=console, transient=True)

    return wrap


def run_degrade(ctx: StageContext, params: DegradeParams) -> dict[str, Any]:
    """Degrade ``params.input_dir`` into ``ctx.out_dir`` (PNGs + ``params.jsonl``)."""
    from degrade.folder import degrade_folder

    seed = ctx.seed if params.seed is None else params.seed
    progress = None if ctx.json_mode else rich_progress(ctx.console, f"degrade ({params.preset})")
    stats = degrade_folder(
        params.input_dir, ctx.out_dir, params.preset, seed, params.copies, params.device, progress
    )
    return {"preset": params.preset, "seed": seed, **stats}
