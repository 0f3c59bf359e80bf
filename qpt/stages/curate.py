"""Stages ``curate`` and ``shard``: a source -> ``manifest.parquet`` -> WebDataset shards.

Example ``pipelines.toml`` tables::

    [[pipeline.demo.stage]]
    kind = "curate"
    source = "folder"
    path = "data/images"
    min_short_side = 512
    workers = 2

    [[pipeline.demo.stage]]
    kind = "shard"              # reads the manifest of the curate stage above
    maxcount = 1000
    shuffle = true
"""

from __future__ import annotations

from curate.params import CurateParams, ShardParams
from qpt.stage import StageContext

__all__ = ["CurateParams", "ShardParams", "run_curate", "run_shard"]


def run_curate(ctx: StageContext, params: CurateParams) -> dict:
    """Curate into ``ctx.out_dir`` (``manifest.parquet``, ``report.png``, ``rejections.png``).

    ``source = "builtin"`` materialises the built-in corpus inside ``ctx.out_dir/work``.
    Resumable: complete units in ``ctx.out_dir/parts`` are reused.
    """
    from curate.pipeline import curate

    return curate(params, ctx.out_dir, console=ctx.console)


def run_shard(ctx: StageContext, params: ShardParams) -> dict:
    """Shard the kept rows of ``params.manifest`` (default: the earlier curate stage's)."""
    from curate.shard import write_shards

    manifest = params.manifest or ctx.input_of("curate") / "manifest.parquet"
    return write_shards(manifest, ctx.out_dir, params, seed=ctx.seed, console=ctx.console)
