"""The cpu-smoke recipe end to end on real photos (slow: real optimiser steps)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import webdataset as wds

from qpt.config import pretrain_recipe as recipe
from train.checkpoint import load_backbone
from train.engine import pretrain


@pytest.mark.slow
def test_cpu_smoke_recipe_learns_on_real_photos(shared_data: Path, tmp_path: Path) -> None:
    photos = sorted((shared_data / "photos").rglob("*.png"))
    assert photos, "no photos in shared data"
    shards = tmp_path / "shards"
    shards.mkdir()
    for s in range(0, len(photos), 32):
        with wds.TarWriter(str(shards / f"shard-{s // 32:06d}.tar")) as sink:
            for f in photos[s : s + 32]:
                sink.write({"__key__": f"{f.parent.name}_{f.stem}", "png": f.read_bytes()})
    summary = pretrain(recipe("cpu-smoke", time_budget_s=600), tmp_path / "run", shards)
    assert summary["complete"] and summary["skipped_samples"] == 0
    rows = [json.loads(r) for r in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < 0.85 * first, (first, last)
    encoder, cfg = load_backbone(tmp_path / "run" / "export")
    assert cfg["model"] == "qpt_hivit_nano" and encoder.num_features == 128
