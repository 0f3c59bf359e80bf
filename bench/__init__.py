"""Benchmarks for quality- and aesthetics-aware backbones (IQA, VQA, IAA).

* :mod:`bench.datasets`: one module per dataset family, each reading the official release
  layout as downloaded (no conversion step), plus the download-free ``synthetic`` benchmark;
* :mod:`bench.metrics`: SRCC / PLCC / KRCC / RMSE (direction-aware, NaN policy documented);
* :mod:`bench.protocols`: official or repeated random 80/20 splits, linear probe and fine-tune;
* :mod:`bench.runner`: backbone x dataset x split x head, resumable; :mod:`bench.report`:
  ``results.json``, ``results.md`` and a PNG bar chart.

The speed benchmarks of every package live with the application, in ``qpt/speed``.
"""
