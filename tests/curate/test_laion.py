"""LAION metadata + img2dataset output, both in their real formats.

The img2dataset output is written as img2dataset 1.4x writes it (``img2dataset/writer.py``,
``downloader.py``, ``logger.py``): per shard ``NNNNN`` a ``NNNNN.tar`` (webdataset) or a
``NNNNN/`` folder (files) with ``KEY.jpg``/``KEY.txt``/``KEY.json`` per fetched sample, a
``NNNNN.parquet`` with one row per input row (fetched or not, in completion order) and
``NNNNN_stats.json``. Keys are ``shard * 10**4 + index`` on 9 digits (10000 samples per
shard, 5-digit shard ids). The JSON and parquet fields are the downloader's: the input
columns (``url``, ``caption``, ``--save_additional_columns``), ``key``, ``status``,
``error_message``, ``width``, ``height``, ``original_width``, ``original_height``, ``exif``
and ``sha256`` (the hash of the bytes the server sent).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.params import CurateParams, ShardParams
from curate.pipeline import curate
from curate.shard import write_shards
from tests.curate.conftest import add_member, encode

URL = "https://example.com/{}.jpg".format
NOT_FOUND = "HTTP Error 404: Not Found"  # str(urllib.error.HTTPError)
REFUSED = "<urlopen error [Errno 111] Connection refused>"  # str(urllib.error.URLError)


def _reencode(jpg: bytes, scale: float = 1.0) -> bytes:
    """What img2dataset does to a served JPEG by default: decode, (resize), encode q95."""
    im = Image.open(io.BytesIO(jpg)).convert("RGB")
    if scale != 1.0:
        im = im.resize((int(im.width * scale), int(im.height * scale)))
    return encode(np.asarray(im), quality=95)


def write_img2dataset(out: Path, shards: list[list[dict]], files_layout: set[int] = frozenset()):
    """img2dataset output from per-shard input rows.

    Each row: ``url``, ``caption``, extra input columns, and either ``served`` (the bytes the
    server sent) with optional ``stored`` (what img2dataset wrote; default: the served
    bytes, as with ``--skip_reencode True``) and ``size`` / ``original_size``, or ``error``
    (img2dataset's ``error_message``).
    """
    out.mkdir(parents=True, exist_ok=True)
    for shard_id, rows in enumerate(shards):
        name = f"{shard_id:05d}"
        metas, samples = [], []
        for i, row in enumerate(rows):
            key = f"{shard_id * 10**4 + i:09d}"
            extra = {k: v for k, v in row.items() if k not in _INPUT_ONLY}
            meta = {**extra, "key": key, "status": "success", "error_message": None,
                    "width": None, "height": None, "original_width": None,
                    "original_height": None, "exif": None, "sha256": None}  # fmt: skip
            if "error" in row:
                meta.update(status="failed_to_download", error_message=row["error"])
            else:
                stored = row.get("stored", row["served"])
                width, height = Image.open(io.BytesIO(stored)).size
                ow, oh = row.get("original_size", (width, height))
                served_hash = hashlib.sha256(row["served"]).hexdigest()
                meta.update(width=width, height=height, original_width=ow, original_height=oh,
                            exif="{}", sha256=served_hash)  # fmt: skip
                samples.append((key, stored, row["caption"], meta))
            metas.append(meta)
        if shard_id in files_layout:
            (out / name).mkdir()
            for key, stored, caption, meta in samples:
                (out / name / f"{key}.jpg").write_bytes(stored)
                (out / name / f"{key}.txt").write_text(caption)
                (out / name / f"{key}.json").write_text(json.dumps(meta, indent=4))
        else:
            with tarfile.open(out / f"{name}.tar", "w") as tar:
                for key, stored, caption, meta in samples:
                    add_member(tar, f"{key}.jpg", stored)
                    add_member(tar, f"{key}.txt", caption.encode())
                    add_member(tar, f"{key}.json", json.dumps(meta, indent=4).encode())
        completion = np.random.default_rng(shard_id).permutation(len(metas))  # imap_unordered
        table = pa.Table.from_pylist([metas[i] for i in completion])
        pq.write_table(table, out / f"{name}.parquet")
        stats = {"count": len(rows), "successes": len(samples), "failed_to_download":
                 len(rows) - len(samples), "failed_to_resize": 0, "duration": 1.0,
                 "status_dict": {"success": len(samples)}}  # fmt: skip
        (out / f"{name}_stats.json").write_text(json.dumps(stats, indent=4))
    return out


_INPUT_ONLY = {"served", "stored", "size", "original_size", "error"}


def _meta(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def _manifest(out: Path) -> list[dict]:
    return pq.read_table(out / "manifest.parquet").to_pylist()


@pytest.fixture(scope="module")
def jpgs(photos) -> list[bytes]:
    return [encode(im[:320, :480], quality=80) for im in photos.values()]


@pytest.fixture(scope="module")
def laion(tmp_path_factory, jpgs) -> tuple[Path, Path]:
    """LAION-5B metadata rows u0..u6 and img2dataset output: shard 00000 (tar), 00001 (files)."""
    root = tmp_path_factory.mktemp("laion")
    cols = ("URL", "TEXT", "WIDTH", "HEIGHT", "similarity", "punsafe", "pwatermark")
    values = [
        (URL(0), "caption 0", 480, 320, 0.35, 0.01, 0.1),  # fetched, passes -> kept
        (URL(1), "caption 1", 480, 320, 0.35, 0.90, 0.1),  # fetched, unsafe
        (URL(2), "caption 2", 480, 320, 0.10, 0.01, 0.1),  # fetched, low similarity
        (URL(3), "caption 3", 480, 320, 0.35, 0.01, 0.1),  # 404
        (URL(4), "caption 4", 100, 80, 0.35, 0.01, 0.1),  # too small by metadata (refused too)
        (URL(5), "caption 5", 480, 320, 0.35, 0.01, 0.95),  # fetched (files layout), watermark
        (URL(6), "caption 6", 480, 320, 0.35, 0.01, 0.1),  # fetched (files layout), passes
    ]
    meta = _meta(root / "laion_part.parquet", [dict(zip(cols, v, strict=True)) for v in values])
    row = lambda i, **kw: {"url": URL(i), "caption": f"caption {i}", **kw}  # noqa: E731
    shards = [
        [row(0, served=jpgs[0]), row(1, served=jpgs[1]), row(2, served=jpgs[2]),
         row(3, error=NOT_FOUND), row(4, error=REFUSED),
         {"url": "https://elsewhere.org/x.jpg", "caption": "c", "served": jpgs[3]}],
        [row(5, served=jpgs[4]), row(6, served=jpgs[5])],
    ]  # fmt: skip
    return meta, write_img2dataset(root / "images", shards, files_layout={1})


def test_laion_join_and_metadata_filters(laion, tmp_path: Path) -> None:
    meta, images = laion
    params = CurateParams(
        source="laion", path=images, metadata=meta, min_short_side=200, report=False
    )
    summary = curate(params, tmp_path / "out")
    rows = _manifest(tmp_path / "out")
    # 7 metadata rows + 1 fetched sample without metadata: all accounted for, once.
    assert summary["candidates"] == len(rows) == 8 and summary["warnings"] == []
    by_text = {r["text"]: r for r in rows if r["text"]}
    assert by_text["caption 0"]["status"] == "kept" and by_text["caption 0"]["phash"]
    assert by_text["caption 6"]["status"] == "kept"
    assert by_text["caption 1"]["reason"] == "unsafe"
    assert by_text["caption 2"]["reason"] == "low_similarity"
    assert by_text["caption 3"]["reason"] == "not_fetched"
    assert by_text["caption 4"]["reason"] == "too_small"
    assert by_text["caption 5"]["reason"] == "watermark"
    # Metadata rejects are settled before any image is opened.
    for caption in ("caption 1", "caption 2", "caption 5"):
        assert by_text[caption]["phash"] is None and by_text[caption]["format"] is None
    # Details name the user's parquet and row; img2dataset's own error text is carried.
    assert by_text["caption 3"]["detail"] == (
        f"laion_part.parquet row 3: img2dataset failed_to_download: {NOT_FOUND}"
    )
    assert by_text["caption 4"]["detail"] == (
        f"laion_part.parquet row 4: img2dataset failed_to_download: {REFUSED}"
    )
    assert by_text["caption 1"]["detail"] == "laion_part.parquet row 1"
    (stray,) = [r for r in rows if not r["text"]]
    assert stray["reason"] == "no_metadata"
    assert stray["detail"] == "url 'https://elsewhere.org/x.jpg' not in the metadata"
    # Absolute paths: the files layout row points at the file itself; the tar row at its member.
    assert by_text["caption 6"]["uri"] == str((images / "00001/000010001.jpg").resolve())
    assert by_text["caption 0"]["uri"] == str((images / "00000.tar").resolve())
    assert by_text["caption 0"]["member"] == "000000000.jpg"
    # Served bytes kept (--skip_reencode True): img2dataset's sha256 matches the stored bytes.
    assert by_text["caption 0"]["source_reencoded"] is False
    assert by_text["caption 6"]["source_reencoded"] is False


def test_laion_url_in_two_shards_is_two_rows_each_accounted_once(jpgs, tmp_path: Path) -> None:
    """The same URL twice in the metadata, fetched into two shards: both rows join their own
    sample; a third listing that img2dataset failed on is not_fetched with its error."""
    dup = URL("dup")
    rows = [{"URL": URL(i), "TEXT": f"caption {i}"} for i in range(3)]
    rows.insert(1, {"URL": dup, "TEXT": "first listing"})
    rows.append({"URL": dup, "TEXT": "second listing"})
    rows.append({"URL": dup, "TEXT": "third listing"})
    meta = _meta(tmp_path / "part-00000.parquet", rows)
    first = [{"url": r["URL"], "caption": r["TEXT"], "served": jpgs[i]} for i, r in enumerate(rows)]
    shards = [  # the 6 input rows over two shards of 3
        first[:3],
        [{"url": rows[3]["URL"], "caption": "caption 2", "served": jpgs[3]},
         {"url": dup, "caption": "second listing", "served": jpgs[4]},
         {"url": dup, "caption": "third listing", "error": REFUSED}],
    ]  # fmt: skip
    images = write_img2dataset(tmp_path / "images", shards)
    (images / "00001_stats.json").unlink()  # as while img2dataset is still on that shard
    params = CurateParams(source="laion", path=images, metadata=meta, min_short_side=0,
                          report=False, phash_radius=None)  # fmt: skip
    summary = curate(params, tmp_path / "out")
    assert summary["warnings"][-1] == (
        "img2dataset has not finished 00001.tar (no NNNNN_stats.json): rerun it to complete"
    )
    out = _manifest(tmp_path / "out")
    assert summary["candidates"] == len(out) == len(rows) == 6
    assert "rejected.no_metadata" not in summary
    by_text = {r["text"]: r for r in out}
    assert by_text["first listing"]["member"] == "000000001.jpg"
    assert by_text["first listing"]["uri"].endswith("00000.tar")
    assert by_text["second listing"]["member"] == "000010001.jpg"
    assert by_text["second listing"]["uri"].endswith("00001.tar")
    assert by_text["first listing"]["status"] == by_text["second listing"]["status"] == "kept"
    assert by_text["third listing"]["reason"] == "not_fetched"
    assert by_text["third listing"]["detail"] == (
        f"part-00000.parquet row 5: img2dataset failed_to_download: {REFUSED}"
    )


def test_laion_records_whether_img2dataset_reencoded(jpgs, tmp_path: Path) -> None:
    """Default img2dataset re-encodes even with --resize_mode no; its JSON tells."""
    rows = [{"URL": URL(i), "TEXT": f"caption {i}"} for i in range(3)]
    meta = _meta(tmp_path / "meta.parquet", rows)
    shards = [[
        {"url": URL(0), "caption": "caption 0", "served": jpgs[0]},  # --skip_reencode True
        {"url": URL(1), "caption": "caption 1", "served": jpgs[1],  # --resize_mode no
         "stored": _reencode(jpgs[1])},
        {"url": URL(2), "caption": "caption 2", "served": jpgs[2],  # keep_ratio resize
         "stored": _reencode(jpgs[2], 0.5), "original_size": (480, 320)},
    ]]  # fmt: skip
    images = write_img2dataset(tmp_path / "images", shards)
    params = CurateParams(source="laion", path=images, metadata=meta, min_short_side=0,
                          report=False, phash_radius=None)  # fmt: skip
    curate(params, tmp_path / "out")
    by_text = {r["text"]: r for r in _manifest(tmp_path / "out")}
    assert [by_text[f"caption {i}"]["source_reencoded"] for i in range(3)] == [False, True, True]
    # The shards' per-sample JSON carries it on, beside shard's own ``reencoded``.
    write_shards(tmp_path / "out/manifest.parquet", tmp_path / "shards", ShardParams())
    with tarfile.open(tmp_path / "shards/shard-000000.tar") as tar:
        metas = [json.load(tar.extractfile(m)) for m in tar if m.name.endswith(".json")]
    got = {m["text"]: (m["source_reencoded"], m["reencoded"]) for m in metas}
    assert got == {"caption 0": (False, False), "caption 1": (True, False),
                   "caption 2": (True, False)}  # fmt: skip


def test_laion400m_metadata_with_default_flags(jpgs, tmp_path: Path, capsys) -> None:
    """LAION-400M's columns (no punsafe/pwatermark): the run goes on, the unapplied
    thresholds are named in the summary's warnings."""
    from qpt.cli import main

    cols = ("SAMPLE_ID", "URL", "TEXT", "HEIGHT", "WIDTH", "LICENSE", "NSFW", "similarity")
    values = [
        (0, URL(0), "caption 0", 320.0, 480.0, "?", "UNLIKELY", 0.33),
        (1, URL(1), "caption 1", 320.0, 480.0, "?", "UNLIKELY", 0.20),
    ]
    meta = _meta(tmp_path / "part-00000.parquet", [dict(zip(cols, v, strict=True)) for v in values])
    shards = [[{"url": URL(i), "caption": f"caption {i}", "served": jpgs[i]} for i in range(2)]]
    images = write_img2dataset(tmp_path / "images", shards)
    code = main(["curate", "--source", "laion", "--path", str(images), "--metadata", str(meta),
                 "-o", str(tmp_path / "out"), "--no-report", "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["candidates"] == 2 and summary["rejected.low_similarity"] == 1
    assert summary["warnings"] == [
        "max_punsafe not applied to part-00000.parquet: no column 'punsafe'",
        "max_pwatermark not applied to part-00000.parquet: no column 'pwatermark'",
    ]


def test_laion_lowercase_and_custom_column_names(jpgs, tmp_path: Path, capsys) -> None:
    """CC12M-style metadata (``url``, ``caption``): ``url`` is found in any case; a caption
    column of another name is given with --caption-col; a missing URL column is one line."""
    from qpt.cli import main

    meta = _meta(tmp_path / "cc.parquet", [{"url": URL(0), "caption": "a cat"}])
    images = write_img2dataset(tmp_path / "images", [[{"url": URL(0), "caption": "a cat",
                                                       "served": jpgs[0]}]])  # fmt: skip
    args = ["curate", "--source", "laion", "--path", str(images), "--metadata", str(meta),
            "--no-report", "--json", "--max-punsafe", "none", "--max-pwatermark", "none",
            "--min-laion-similarity", "none"]  # fmt: skip
    assert main([*args, "-o", str(tmp_path / "a"), "--caption-col", "caption"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kept"] == 1 and summary["warnings"] == []
    assert _manifest(tmp_path / "a")[0]["text"] == "a cat"
    assert main([*args, "-o", str(tmp_path / "b"), "--url-col", "image_url"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: laion metadata ") and "no URL column 'image_url'" in err
    assert "--url-col" in err and "\n" not in err


def test_shard_runs_from_another_directory(laion, tmp_path: Path, monkeypatch) -> None:
    """Curate with relative paths, then shard from elsewhere: the manifest's paths hold."""
    from qpt.cli import main

    meta, images = laion
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    (work / "i2d").symlink_to(images)
    (work / "meta.parquet").symlink_to(meta)
    assert main(["curate", "--source", "laion", "--path", "i2d", "--metadata", "meta.parquet",
                 "-o", "runs/curate", "--min-short-side", "200", "--no-report"]) == 0  # fmt: skip
    rows = _manifest(work / "runs/curate")
    assert all(os.path.isabs(r["uri"]) for r in rows if r["member"] or r["format"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    manifest = work / "runs/curate/manifest.parquet"
    summary = write_shards(manifest, elsewhere / "shards", ShardParams())
    assert summary["samples"] == sum(r["status"] == "kept" for r in rows) == 2


def test_laion_repeats_unequal_between_metadata_and_output(jpgs, tmp_path: Path) -> None:
    """Metadata lists A twice and B once; img2dataset's output (run on another list) has A
    once and B twice: the extra A row is not_fetched, the extra B sample is no_metadata,
    each saying why."""
    a, b = URL("a"), URL("b")
    meta = _meta(tmp_path / "m.parquet", [{"URL": u, "TEXT": f"row {i}"} for i, u in
                                          enumerate([a, a, b])])  # fmt: skip
    shards = [[{"url": u, "caption": "c", "served": jpgs[i]} for i, u in enumerate([a, b, b])]]
    images = write_img2dataset(tmp_path / "images", shards)
    params = CurateParams(source="laion", path=images, metadata=meta, min_short_side=0,
                          report=False, phash_radius=None)  # fmt: skip
    summary = curate(params, tmp_path / "out")
    out = {r["text"] or r["member"]: r for r in _manifest(tmp_path / "out")}
    assert summary["candidates"] == len(out) == 4
    assert out["row 0"]["member"] == "000000000.jpg" and out["row 0"]["status"] == "kept"
    assert out["row 1"]["reason"] == "not_fetched"
    assert out["row 1"]["detail"] == (
        "m.parquet row 1: img2dataset lists this url 1 time(s), all matched to earlier rows"
    )
    assert out["row 2"]["member"] == "000000001.jpg" and out["row 2"]["status"] == "kept"
    assert out["000000002.jpg"]["reason"] == "no_metadata"
    assert out["000000002.jpg"]["detail"] == (
        f"url {b!r} listed 1 time(s) in the metadata, all matched to earlier samples"
    )
