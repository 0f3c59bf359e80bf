"""Parameters of degrading a folder (the ``degrade`` stage table, the ``qpt degrade`` options)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


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

    @field_validator("preset")
    @classmethod
    def _known(cls, v: str) -> str:
        from degrade.presets import list_presets  # the op registry imports torch

        if v not in list_presets():
            raise ValueError(f"unknown preset {v!r}; choose from {list_presets()}")
        return v
