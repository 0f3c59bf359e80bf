"""Parameters of degrading a folder (the ``degrade`` stage table, the ``qpt degrade`` options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: largest image ``qpt degrade`` degrades (4096 x 4096): the presets' CPU peak is ~40-70
#: bytes per pixel (README, "Memory"), so about 1 GB at this size; larger ones are refused
#: from their header, unread
DEGRADE_MAX_PIXELS = 4096 * 4096


class DegradeParams(BaseModel):
    """What :func:`degrade.folder.degrade_folder` is asked to do."""

    model_config = ConfigDict(extra="forbid")

    input_dir: Path = Field(description="Folder of images to degrade (recursive).")
    preset: str = Field("qpt-v2", description="Preset name (qpt degrade ops).")
    seed: int | None = Field(
        None, description="Run seed; per-image seeds derive from it (default: the run's, or 0)."
    )
    copies: int = Field(1, ge=1, le=1000, description="Degraded versions per image.")
    device: str = Field("cpu", description="cpu or cuda.")
    max_pixels: int = Field(
        DEGRADE_MAX_PIXELS,
        ge=1,
        description="Refuse larger images (error record each), from the header: bounds memory "
        "(~40-70 bytes per pixel on CPU).",
    )

    @field_validator("preset")
    @classmethod
    def _known(cls, v: str) -> str:
        from degrade.presets import list_presets  # the op registry imports torch

        if v not in list_presets():
            raise ValueError(f"unknown preset {v!r}; choose from {list_presets()}")
        return v
