"""Two CPU processes with gloo: DDP keeps parameters identical across ranks, and they train."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from .conftest import tiny_params, write_shards


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, shards: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    torch.set_num_threads(1)
    from train import distributed as D
    from train.data import ShardStream, make_loader, resolve_shards
    from train.engine import Trainer, pretrain

    params = tiny_params(steps=4, batch_size=2, ckpt_every=2, degrade="qpt-v2", blr=1e-2)
    info = D.setup("cpu")
    trainer = Trainer(params, info, seed=0)
    trainer.reseed(0, 0)
    start = torch.cat([p.detach().flatten().clone() for p in trainer.model.parameters()])
    stream = ShardStream(resolve_shards(shards), 64, 2, 3, seed=0)
    keys = []
    for batch in make_loader(stream, 0):
        keys += batch["keys"]
        trainer.step([batch["images"]])
    end = torch.cat([p.detach().flatten() for p in trainer.model.parameters()])
    ends = D.gather(end, info)
    summary = pretrain(params, Path(out) / "run", shards, progress=False)
    all_keys = D.gather(keys, info)
    if rank == 0:
        result = {
            "rank_diff": max((e - ends[0]).abs().max().item() for e in ends),
            "moved": (ends[0] - start).abs().max().item(),
            "keys": all_keys,
            "summary": summary,
        }
        (Path(out) / "result.json").write_text(json.dumps(result))
    D.barrier(info)
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_stay_identical_and_train(tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    write_shards(shards, n_shards=4, per_shard=4)
    mp.spawn(_worker, args=(2, _free_port(), str(shards), str(tmp_path)), nprocs=2, join=True)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["rank_diff"] == 0.0  # DDP averaged the gradients: identical updates
    assert result["moved"] > 1e-4  # ... and they did update
    k0, k1 = result["keys"]
    assert len(k0) == len(k1) == 6 and set(k0) != set(k1)  # each rank read its own data
    s = result["summary"]
    assert s["complete"] and s["world_size"] == 2 and s["effective_batch"] == 4
    assert s["images_seen"] == 16
    assert (tmp_path / "run" / "export" / "encoder.safetensors").is_file()
