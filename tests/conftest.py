"""Shared test fixtures.

``shared_data`` points at ``../shared/data`` (real photos and the LIVE Challenge subset) and
skips the test with a clear reason when that folder is absent (e.g. a clone on its own).

``device`` and ``dtype`` parametrize a test over where and in what precision it computes
(kornia's habit): ``cpu`` / ``float32`` always; ``cuda`` and ``bfloat16`` carry the ``gpu``
mark, so ``pytest -m gpu`` runs them (skipped with a reason where CUDA is absent).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("QPT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (override with $QPT_SHARED_DATA); skips when missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set QPT_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def _few_threads() -> None:
    """Two cores, several test processes: keep torch from oversubscribing them."""
    import torch

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(
    params=[pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=pytest.mark.gpu)]
)
def device(request: pytest.FixtureRequest):
    """``torch.device("cpu")``, and ``cuda`` under ``-m gpu`` when a CUDA device is present."""
    import torch

    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    return torch.device(request.param)


@pytest.fixture(
    params=[
        pytest.param("float32", id="float32"),
        pytest.param("bfloat16", id="bfloat16", marks=pytest.mark.gpu),
    ]
)
def dtype(request: pytest.FixtureRequest, device):
    """The compute precision: ``float32``, and ``bfloat16`` (training's autocast precision on
    CUDA) under ``-m gpu`` on ``cuda`` only."""
    import torch

    if request.param == "bfloat16" and device.type != "cuda":
        pytest.skip("bfloat16 is the autocast precision of CUDA training")
    return getattr(torch, request.param)
