"""The verbs of the ``qpt`` command, one module each; shared rules below."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the backbone ``qpt bench`` and ``qpt finetune`` take when no ``--checkpoint`` is given
DEFAULT_EXPORT = Path("runs/default/pretrain/export")


def with_default_checkpoint(data: dict[str, Any], given: dict[str, Any], verb: str) -> None:
    """Fill ``data["checkpoint"]`` with :data:`DEFAULT_EXPORT` unless the user typed one.

    Raises:
        ValueError: no ``--checkpoint`` and no default export on disk.
    """
    if "checkpoint" in given:
        return
    if not DEFAULT_EXPORT.is_dir():
        raise ValueError(
            f"{verb}: no --checkpoint given and {DEFAULT_EXPORT} does not exist "
            "(run `qpt run` first or pass -c)"
        )
    data["checkpoint"] = str(DEFAULT_EXPORT)
