"""The dataset registry: every benchmark by name, and discovery under a data root."""

from __future__ import annotations

from pathlib import Path

from bench.datasets.base import BenchDataset, DatasetSpec, candidate_folders

_SPECS: dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add (or replace) a benchmark; returns ``spec`` so modules can keep a handle on it."""
    _SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> DatasetSpec:
    """The benchmark called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return _SPECS[name]
    except KeyError:
        known = ", ".join(sorted(_SPECS))
        raise ValueError(f"unknown dataset '{name}' (known: {known}, synthetic)") from None


def list_specs() -> list[DatasetSpec]:
    """Every registered on-disk benchmark, in registration order (IQA, IAA, VQA)."""
    return list(_SPECS.values())


def find_datasets(data_root: Path) -> tuple[dict[str, Path], list[DatasetSpec]]:
    """Which benchmarks are under ``data_root``: ``({name: release folder}, [missing specs])``."""
    found: dict[str, Path] = {}
    missing: list[DatasetSpec] = []
    folders = candidate_folders(data_root)
    for spec in list_specs():
        root = spec.locate(data_root, folders)
        if root is None:
            missing.append(spec)
        else:
            found[spec.name] = root
    return found, missing


def load_dataset(name: str, root: Path, allow_partial: bool = False) -> BenchDataset:
    """Read benchmark ``name`` from its release folder ``root`` (official layout).

    Raises:
        FileNotFoundError: ``root`` or a required score file is missing.
        ValueError: the files do not match the official layout (see the spec's layout).
    """
    spec = get_spec(name)
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: dataset folder {root} not found")
    return spec.load(root, allow_partial)
