"""Fixtures of the bench tests: a data root holding a tiny copy of every official release."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.releases import MAKERS, image


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with every release (as users unpack them side by side)."""
    root = tmp_path_factory.mktemp("datasets")
    for make in MAKERS.values():
        make(root)
    return root


@pytest.fixture(scope="session")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``{dataset: (release folder, [(key, score)])}`` in a fresh root per session."""
    root = tmp_path_factory.mktemp("expected")
    return {name: make(root / name) for name, make in MAKERS.items()}


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four small photos for the synthetic benchmark (faster than the built-in ones)."""
    root = tmp_path_factory.mktemp("photos")
    for i in range(4):
        image(root / f"p{i}.png", 0.3 + 0.1 * i, size=(72, 96), seed=i)
    return root
