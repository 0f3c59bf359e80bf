"""The authors' reference outputs in ``../shared/reference`` (see its README).

Each file holds the authors' weights under their own key names (``state.`` + key), the
inputs, the masks and every output of their unmodified code; its metadata (JSON) gives the
configuration. Tests using them skip cleanly when the folder is absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from torch import Tensor

from tests.conftest import REPO_ROOT

SHARED_REFERENCE = Path(
    os.environ.get("QPT_SHARED_REFERENCE", REPO_ROOT.parent / "shared" / "reference")
)
TOLERANCE = 1e-4  # max abs error, float32 on CPU (the reference README's bar)


@dataclass
class Reference:
    """One reference file: its tensors, the authors' state dict and its metadata."""

    path: Path
    tensors: dict[str, Tensor]
    meta: dict[str, Any]

    @property
    def state(self) -> dict[str, Tensor]:
        """The authors' state dict (the ``state.`` prefix removed)."""
        return {k[6:]: v for k, v in self.tensors.items() if k.startswith("state.")}

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]


def load_reference(name: str) -> Reference:
    """``../shared/reference/NAME.safetensors``; skips the test when it is absent."""
    path = SHARED_REFERENCE / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"reference outputs not found at {path} (set QPT_SHARED_REFERENCE)")
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["meta"])
    return Reference(path, load_file(str(path)), meta)


def max_abs(a: Tensor, b: Tensor) -> float:
    assert a.shape == b.shape, (tuple(a.shape), tuple(b.shape))
    return (a.float() - b.float()).abs().max().item()
