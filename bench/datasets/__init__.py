# isort: skip_file
"""Benchmark datasets in their official release layouts, by name.

>>> from bench.datasets import list_specs
>>> [s.name for s in list_specs()][:3]
['livec', 'koniq', 'spaq']
"""

from bench.datasets import (  # noqa: F401  (registration side effects, in report order)
    livec,
    koniq,
    spaq,
    flive,
    kadid,
    ava,
    aadb,
    tad66k,
    konvid,
    livevqc,
    lsvq,
)
from bench.datasets.base import BenchDataset, DatasetSpec, Sample, expected_layout
from bench.datasets.registry import (
    find_datasets,
    get_spec,
    list_specs,
    load_dataset,
    register_dataset,
)

__all__ = [
    "BenchDataset",
    "DatasetSpec",
    "Sample",
    "expected_layout",
    "find_datasets",
    "get_spec",
    "list_specs",
    "load_dataset",
    "register_dataset",
]
