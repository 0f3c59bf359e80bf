"""``qpt run`` under torchrun with 2 gloo ranks on CPU: one pipeline, real DDP pretraining."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.qpt.rank_driver import calls

ROOT = Path(__file__).resolve().parents[2]

PIPELINE = """
[run]
runs_dir = "{runs}"
seed = 3
[pipeline.ddp]
[[pipeline.ddp.stage]]
kind = "log"
name = "curate"
[[pipeline.ddp.stage]]
kind = "log_shards"
name = "shard"
[[pipeline.ddp.stage]]
kind = "pretrain"
inputs = {{ shard = "shard" }}
model = "mae_qpt_hivit_nano"
img_size = 64
batch_size = 2
steps = 4
warmup_steps = 1
ckpt_every = 2
image_every = 2
log_every = 1
num_workers = 0
device = "cpu"
[[pipeline.ddp.stage]]
kind = "log"
name = "bench"
"""


def _torchrun(config: Path) -> subprocess.CompletedProcess:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    qpt = ["-m", "tests.qpt.rank_driver", "run", "ddp", "-c", str(config), "--json"]
    cmd = [*torchrun, "--nproc_per_node", "2", *qpt]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_two_ranks_run_the_pipeline_once_and_pretrain_together(tmp_path: Path) -> None:
    config = tmp_path / "pipelines.toml"
    config.write_text(PIPELINE.format(runs=tmp_path / "runs"))
    run_dir = tmp_path / "runs" / "ddp"
    done = _torchrun(config)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(done.stdout)  # one rank printed run.json: rank 0
    assert record == json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "done" and record["world_size"] == 2
    assert [s["status"] for s in record["stages"].values()] == ["done"] * 4
    # curate, shard and bench ran once, on rank 0; pretraining on both ranks with DDP
    assert [(c["stage"], c["rank"]) for c in calls(run_dir)] == [
        ("curate", 0), ("shard", 0), ("bench", 0)
    ]  # fmt: skip
    summary = record["stages"]["pretrain"]["summary"]
    assert summary["complete"] and summary["world_size"] == 2
    assert summary["effective_batch"] == 4 and summary["images_seen"] == 16
    assert (run_dir / "pretrain" / "export" / "encoder.safetensors").is_file()
    assert "rank 1/2: ran ['pretrain']; rank 0 finishes the run" in done.stderr
    assert not (run_dir / "qpt.lock").exists()  # released
