"""Stage ``pretrain``: shards of an earlier ``shard`` stage -> checkpoints, metrics, pictures
and ``export/`` (the encoder ``bench`` loads). Rerunning continues from the newest checkpoint;
a completed run is not redone.

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "pretrain"
    recipe = "cpu-smoke"        # a [recipe.NAME] table of pipelines.toml; own keys win
    steps = 500
    degrade = "kadid"
"""

from __future__ import annotations

from typing import Any

from qpt.stage import StageContext
from train.config import PretrainParams

__all__ = ["PretrainParams", "run_pretrain"]


def run_pretrain(ctx: StageContext, params: PretrainParams) -> dict[str, Any]:
    """Run (or resume) pretraining in ``ctx.out_dir``; returns the engine's summary.

    Raises:
        ValueError: no ``shards`` parameter and no earlier ``shard`` stage, bad data, a
            checkpoint from another config, or a non-finite loss.
        FileNotFoundError: the shards do not exist.
    """
    from train.engine import pretrain

    shards = params.shards if params.shards else ctx.input_of("shard")
    return pretrain(
        params,
        ctx.out_dir,
        shards,
        seed=ctx.seed,
        console=ctx.console,
        progress=not ctx.json_mode,
    )
