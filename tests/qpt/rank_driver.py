"""``python -m tests.qpt.rank_driver ARGS``: the ``qpt`` CLI with stage kinds for rank tests.

The kinds log every call with the rank that made it to ``RUN_DIR/calls.jsonl``:

* ``log``: log; fail when told to; wait for ``hold`` (a file path) to exist first.
* ``log_shards``: log, then write small WebDataset shards of real photos (for pretrain).
* ``log_all``: log; run by every rank (as pretraining is).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from qpt.stage import StageContext
from qpt.stages import StageKind, register_stage


class LogParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail: bool = False
    hold: str | None = None


def _log(ctx: StageContext) -> None:
    record = {"stage": ctx.stage, "rank": int(os.environ.get("RANK", "0")), "pid": os.getpid()}
    with open(ctx.run_dir / "calls.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def run_log(ctx: StageContext, params: LogParams) -> dict:
    _log(ctx)
    deadline = time.monotonic() + 60
    while params.hold and not Path(params.hold).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    if params.fail:
        raise ValueError(f"stage {ctx.stage} was told to fail")
    (ctx.out_dir / "out.txt").write_text(ctx.stage)
    return {"stage": ctx.stage}


def run_log_shards(ctx: StageContext, params: LogParams) -> dict:
    from tests.train.conftest import write_shards

    _log(ctx)
    write_shards(ctx.out_dir, n_shards=2, per_shard=4)
    return {"shards": 2}


def calls(run_dir: Path) -> list[dict]:
    path = run_dir / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def register() -> None:
    register_stage(StageKind("log", LogParams, run_log, "test: log the call"))
    register_stage(StageKind("log_shards", LogParams, run_log_shards, "test: log, write shards"))
    register_stage(StageKind("log_all", LogParams, run_log, "test: every rank", all_ranks=True))


register()

if __name__ == "__main__":
    from qpt.cli import main

    sys.exit(main(sys.argv[1:]))
