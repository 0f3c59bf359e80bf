"""WebDataset shards: original bytes, stats written last, resume after a kill, resize."""

from __future__ import annotations

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
    ext_of = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
    for number in range(summary["shards"]):
        stats = json.loads((ctx.out_dir / f"shard-{number:06d}.json").read_text())
        tar = ctx.out_dir / stats["shard"]
        members = _members(tar)
        chunk = kept[7 * number : 7 * (number + 1)]
        entries = [e for e in index if e["shard"] == stats["shard"]]
        assert [e["key"] for e in entries] == [r["key"] for r in chunk]
        assert [e["pos"] for e in entries] == list(range(len(chunk)))
        assert (stats["count"], stats["first_key"], stats["last_key"]) == (
            len(chunk),
            chunk[0]["key"],
            chunk[-1]["key"],
        )
        assert stats["bytes"] == tar.stat().st_size
        for row, entry in zip(chunk, entries, strict=True):
            ext = ext_of[row["format"]]
            original = Path(row["uri"]).read_bytes()
            # The image member is the original file, byte for byte, under the right extension.
            assert members.pop(f"{row['key']}.{ext}") == original
            assert (entry["ext"], entry["bytes"]) == (ext, len(original))
            meta = json.loads(members.pop(f"{row['key']}.json"))
            for field in ("key", "uri", "sha256", "phash", "format", "width", "height"):
                assert meta[field] == row[field], field
            assert meta["reencoded"] is False and entry["reencoded"] is False
        assert not members  # nothing else in the tar


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


class _Crash(BaseException):
    """A simulated kill: not an Exception, so nothing on the way catches it."""


def _renames(monkeypatch, crash_after: str | None = None) -> list[str]:
    """Record the names renamed into place by qpt_base.atomic; optionally "die" right after
    the rename of ``crash_after``."""
    import qpt_base.atomic

    real, done = os.replace, []

    def replace(src, dst) -> None:
        real(src, dst)
        done.append(Path(dst).name)
        if Path(dst).name == crash_after:
            raise _Crash

    monkeypatch.setattr(qpt_base.atomic.os, "replace", replace)
    return done


def test_tar_is_in_place_before_its_stats(curated: Path, tmp_path: Path, monkeypatch) -> None:
    done = _renames(monkeypatch)
    summary = write_shards(curated / "manifest.parquet", tmp_path, ShardParams(maxcount=3))
    for number in range(summary["shards"]):
        tar, stats = f"shard-{number:06d}.tar", f"shard-{number:06d}.json"
        assert done.index(tar) < done.index(stats)


@pytest.mark.parametrize("left", ["tar_only", "stats_only"])
def test_crash_between_the_two_renames_redoes_the_shard(
    curated: Path, tmp_path: Path, monkeypatch, left: str
) -> None:
    """Die between shard 1's two renames: the resume must rewrite shard 1, never count it
    complete. ``stats_only`` is what the opposite rename order would leave behind."""
    params = ShardParams(maxcount=3)
    reference = tmp_path / "ref"
    write_shards(curated / "manifest.parquet", reference, params)
    out = tmp_path / "crashed"
    crash_after = "shard-000001.tar" if left == "tar_only" else "shard-000001.json"
    _renames(monkeypatch, crash_after=crash_after)
    with pytest.raises(_Crash):
        write_shards(curated / "manifest.parquet", out, params)
    monkeypatch.undo()
    assert (out / "shard-000001.tar").exists() and not (out / "index.parquet").exists()
    if left == "stats_only":
        (out / "shard-000001.tar").unlink()
    else:
        assert not (out / "shard-000001.json").exists()
    summary = write_shards(curated / "manifest.parquet", out, params)
    assert summary["shards_resumed"] == 1  # shard 0 only
    for tar in sorted(reference.glob("shard-*.tar")):
        assert (out / tar.name).read_bytes() == tar.read_bytes()
    index = pq.read_table(out / "index.parquet").to_pylist()
    assert index == pq.read_table(reference / "index.parquet").to_pylist()


def test_stats_without_their_tar_are_not_trusted(curated: Path, tmp_path: Path) -> None:
    params = ShardParams(maxcount=3)
    first = write_shards(curated / "manifest.parquet", tmp_path, params)
    reference = (tmp_path / "shard-000001.tar").read_bytes()
    (tmp_path / "shard-000001.tar").unlink()
    (tmp_path / "shard-000002.tar").write_bytes(b"truncated")
    again = write_shards(curated / "manifest.parquet", tmp_path, params)
    assert again["shards_resumed"] == first["shards"] - 2
    assert (tmp_path / "shard-000001.tar").read_bytes() == reference
    assert len(_members(tmp_path / "shard-000002.tar")) == 6


def test_a_file_changed_since_curation_is_refused(tmp_path: Path, photos, capsys) -> None:
    from PIL import Image

    from qpt.cli import main

    src = tmp_path / "imgs"
    src.mkdir()
    for name, im in list(photos.items())[:2]:
        Image.fromarray(im[:300, :300]).save(src / f"{name}.png")
    params = CurateParams(source="folder", path=src, richness=False, report=False)
    curate(params, tmp_path / "c")
    victim = sorted(src.glob("*.png"))[1]
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF  # same size, one byte changed
    victim.write_bytes(bytes(data))
    manifest = tmp_path / "c/manifest.parquet"
    with pytest.raises(ValueError, match=f"^{victim}: changed since curation"):
        write_shards(manifest, tmp_path / "s", ShardParams())
    assert main(["shard", str(manifest), "-o", str(tmp_path / "s2")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {victim}: changed since curation") and "\n" not in err
    assert not list((tmp_path / "s2").glob("*.tar")) and not list((tmp_path / "s2").glob(".*"))


def test_recurated_change_is_not_served_from_old_shards(tmp_path: Path, photos) -> None:
    """Same keys, new bytes: after re-curating a changed file, its shard is rewritten."""
    from PIL import Image

    src = tmp_path / "imgs"
    src.mkdir()
    ims = list(photos.values())
    for i in range(2):
        Image.fromarray(ims[i][:300, :300]).save(src / f"{i}.png")
    params = CurateParams(source="folder", path=src, richness=False, report=False)
    curate(params, tmp_path / "c")
    write_shards(tmp_path / "c/manifest.parquet", tmp_path / "s", ShardParams())
    Image.fromarray(ims[2][:300, :300]).save(src / "1.png")  # another picture, same name
    curate(params, tmp_path / "c2")  # a new manifest: the same keys, one new SHA-256
    again = write_shards(tmp_path / "c2/manifest.parquet", tmp_path / "s", ShardParams())
    assert again["shards_resumed"] == 0
    members = _members(tmp_path / "s/shard-000000.tar")
    packed = sorted(data for name, data in members.items() if name.endswith(".png"))
    assert packed == sorted((src / f"{i}.png").read_bytes() for i in range(2))
