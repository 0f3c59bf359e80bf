"""Pipeline stages ``curate`` and ``shard`` (registered by ``qpt.stages``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from curate.params import CurateParams, ShardParams

if TYPE_CHECKING:  # the runner's contract; no runtime dependency on the CLI package
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
