"""WebDataset shards: original bytes, stats written last, resume after a kill, resize."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.params import CurateParams, ShardParams
from curate.pipeline import curate
from curate.shard import plan_shards, write_shards
from qpt.stage import StageContext


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("curated")
    params = CurateParams(
        source="builtin", builtin_photos=["coffee", "chelsea"], richness=False, report=False,
        min_short_side=64,
    )  # fmt: skip
    curate(params, out)
    return out


def _members(tar: Path) -> dict[str, bytes]:
    with tarfile.open(tar) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers()}


def test_plan_respects_maxcount_and_maxsize() -> None:
    assert plan_shards([10] * 5, maxcount=2, maxsize=10**9) == [[0, 1], [2, 3], [4]]
    big = 10_000
    assert plan_shards([big, 1, big * 5, 1], maxcount=10, maxsize=3 * big) == [[0, 1], [2], [3]]


def test_shards_hold_original_bytes_and_stats(curated: Path, tmp_path: Path) -> None:
    from qpt.stages.curate import run_shard

    ctx = StageContext(
        pipeline="t", stage="shard", kind="shard", run_dir=tmp_path, out_dir=tmp_path / "s",
        inputs={"curate": curated}, kinds={"curate": "curate"},
    )  # fmt: skip
    ctx.out_dir.mkdir()
    summary = run_shard(ctx, ShardParams(maxcount=7))
    kept = [
        r for r in pq.read_table(curated / "manifest.parquet").to_pylist() if r["status"] == "kept"
    ]
    assert summary["samples"] == len(kept) and summary["shards"] == -(-len(kept) // 7)
    index = pq.read_table(ctx.out_dir / "index.parquet").to_pylist()
    assert [e["key"] for e in index] == [r["key"] for r in kept]
    for number in range(summary["shards"]):
        stats = json.loads((ctx.out_dir / f"shard-{number:06d}.json").read_text())
        assert stats["count"] == len(_members(ctx.out_dir / stats["shard"])) // 2
    by_key = {r["key"]: r for r in kept}
    for name, data in _members(ctx.out_dir / "shard-000000.tar").items():
        key, ext = name.split(".", 1)  # keys hold no dots: WebDataset splits at the first
        if ext == "json":
            assert json.loads(data)["sha256"] == by_key[key]["sha256"]
        else:
            assert hashlib.sha256(data).hexdigest() == by_key[key]["sha256"]  # not re-encoded
            assert ext == {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[by_key[key]["format"]]


def test_webdataset_reads_the_shards(curated: Path, tmp_path: Path) -> None:
    import webdataset as wds

    summary = write_shards(curated / "manifest.parquet", tmp_path, ShardParams(maxcount=5))
    urls = [str(p) for p in sorted(tmp_path.glob("shard-*.tar"))]
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode("rgb"))
    assert len(samples) == summary["samples"]
    image = next(v for k, v in samples[0].items() if k in ("jpg", "png", "webp"))
    assert image.ndim == 3 and image.shape[2] == 3


_SLOW_CHILD = """
import sys, time
from pathlib import Path
import curate.shard as s
from curate.params import ShardParams
real = s._write_one
def slow(*a, **k):
    time.sleep(0.4)
    return real(*a, **k)
s._write_one = slow
s.write_shards(Path(sys.argv[1]), Path(sys.argv[2]), ShardParams(maxcount=3, shuffle=True), seed=5)
"""


def test_killed_shard_run_resumes_identically(curated: Path, tmp_path: Path) -> None:
    params = ShardParams(maxcount=3, shuffle=True)
    reference = tmp_path / "ref"
    write_shards(curated / "manifest.parquet", reference, params, seed=5)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CHILD, str(curated / "manifest.parquet"), str(out)], env=env
    )
    deadline = time.monotonic() + 60
    while not list(out.glob("shard-*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    complete = {p.stem for p in out.glob("shard-*.json")}
    assert complete and not (out / "index.parquet").exists()
    summary = write_shards(curated / "manifest.parquet", out, params, seed=5)
    assert summary["shards_resumed"] == len(complete) < summary["shards"]
    ref_tars = sorted(p.name for p in reference.glob("shard-*.tar"))
    assert sorted(p.name for p in out.glob("shard-*.tar")) == ref_tars
    for name in ref_tars:  # mtime 0, same plan: byte-identical
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    assert not list(out.glob(".*tmp"))


def test_resize_is_lossless_png_by_default(curated: Path, tmp_path: Path) -> None:
    summary = write_shards(curated / "manifest.parquet", tmp_path, ShardParams(max_side=128))
    index = pq.read_table(tmp_path / "index.parquet").to_pylist()
    assert summary["reencoded"] == sum(e["reencoded"] for e in index) > 0
    for e in index:
        assert max(e["width"], e["height"]) <= 128 or not e["reencoded"]
        assert e["ext"] == "png" or not e["reencoded"]


def test_missing_manifest_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="run 'qpt curate' first"):
        write_shards(tmp_path / "none.parquet", tmp_path / "s", ShardParams())
