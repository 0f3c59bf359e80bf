"""``shard``: pack the kept manifest rows into WebDataset tars, original bytes preserved.

Output folder::

    shard-000000.tar    KEY.<jpg|png|webp> (original encoded bytes) + KEY.json (manifest fields)
    shard-000000.json   per-shard stats, written LAST by atomic rename: present == complete
    index.parquet       key -> shard, position, bytes, size (written at the end)
    plan.json           the packing plan's fingerprint (a different plan wipes old shards)
    qpt.lock            held while a run writes here (a second writer is refused)

The packing is decided up front from the manifest (deterministic, optionally shuffled with
the seed), so shard ``i`` always holds the same samples: a rerun skips complete shards and
rewrites the others from scratch; a tar without its stats file is never trusted. Tars are
written to ``.tmp`` names and renamed, with ``mtime=0`` so reruns are byte-identical.

Tars are plain POSIX (PAX) tars, what ``webdataset.TarWriter`` writes too, but each member
is appended as the standard library's ``TarInfo.tobuf`` header + the bytes + padding in
single buffered writes: ``TarWriter`` goes through ``tarfile``'s stream mode (10 KB
records, a ``TarInfo`` copy and a chunked copy per member), measurably slower
(``docs/measured.md``).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
from rich.console import Console

from curate.manifest import read_manifest, write_atomic
from curate.params import ShardParams
from curate.readback import read_original
from curate.sources.tario import TarReader
from qpt_base.atomic import atomic_path, atomic_write_text, sweep_temporaries
from qpt_base.fingerprint import sha256_bytes
from qpt_base.lock import folder_lock

# Formats stored as they are; anything else (BMP, TIFF, PPM, still GIF) is re-encoded to PNG,
# losslessly, because training readers decode by extension.
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_TAR_OVERHEAD = 2 * 1024  # two 512-byte headers + padding per sample, roughly
_JSON_FIELDS = (
    "key", "source", "uri", "member", "bytes", "format", "width", "height", "orientation",
    "sha256", "phash",
    "richness", "richness_exact", "clip_score", "text", "similarity", "aesthetic",
    "source_reencoded",
)  # fmt: skip
INDEX_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("shard", pa.string()),
        ("pos", pa.int32()),
        ("ext", pa.string()),
        ("bytes", pa.int64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("reencoded", pa.bool_()),
    ]
)


def plan_shards(sizes: list[int], maxcount: int, maxsize: int) -> list[list[int]]:
    """Greedy packing in order: a shard closes before exceeding ``maxcount`` or ``maxsize``.

    Args:
        sizes: bytes of each sample, in packing order.

    Returns:
        row indices per shard (a sample bigger than ``maxsize`` gets a shard of its own).
    """
    shards: list[list[int]] = []
    current: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        cost = size + _TAR_OVERHEAD
        if current and (len(current) >= maxcount or total + cost > maxsize):
            shards.append(current)
            current, total = [], 0
        current.append(i)
        total += cost
    if current:
        shards.append(current)
    return shards


def write_shards(
    manifest_path: Path,
    out_dir: Path,
    params: ShardParams,
    seed: int = 0,
    console: Console | None = None,
) -> dict:
    """Write the shards of ``manifest_path``'s kept rows into ``out_dir``.

    Returns:
        ``shards``, ``samples``, ``bytes``, ``shards_resumed``, ``reencoded``, ``seconds``,
        ``mb_per_s``.

    Raises:
        FileNotFoundError: missing manifest, or an original file gone since curation.
        ValueError: not a manifest; an original changed since curation; or another run
            writes into ``out_dir`` (``FolderLocked``).
    """
    start = time.perf_counter()
    rows = [r for r in read_manifest(manifest_path).to_pylist() if r["status"] == "kept"]
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir, "shard"):
        summary = _write_shards(rows, out_dir, params, seed, console or Console(stderr=True))
    seconds = time.perf_counter() - start
    written, path = summary.pop("written"), summary.pop("path")
    summary.update(seconds=round(seconds, 2), mb_per_s=round(written / 1e6 / max(seconds, 1e-9), 1))
    return {**summary, "path": path}


def _write_shards(
    rows: list[dict], out_dir: Path, params: ShardParams, seed: int, console: Console
) -> dict:
    from rich.progress import Progress

    sweep_temporaries(out_dir)  # left by a run that died (the lock says none is alive)
    if params.shuffle:
        rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
    plan = plan_shards([r["bytes"] or 0 for r in rows], params.maxcount, params.maxsize)
    _check_plan(out_dir, params, rows, seed)

    index: list[dict] = []
    written = resumed = reencoded = 0
    with TarReader() as tars, Progress(console=console, transient=True) as bar:
        task = bar.add_task("shard", total=len(plan))
        for number, members in enumerate(plan):
            name = f"shard-{number:06d}"
            stats = _complete(out_dir, name)
            if stats is not None:
                resumed += 1
            else:
                batch = [rows[i] for i in members]
                stats = _write_one(out_dir, name, batch, params, tars)
                written += stats["bytes"]
            index.extend(stats.pop("index"))
            reencoded += stats["reencoded"]
            bar.advance(task)
    write_atomic(pa.Table.from_pylist(index, schema=INDEX_SCHEMA), out_dir / "index.parquet")
    return {
        "shards": len(plan),
        "samples": len(index),
        "bytes": sum(e["bytes"] for e in index),
        "shards_resumed": resumed,
        "reencoded": reencoded,
        "written": written,
        "path": str(out_dir),
    }


def _check_plan(out_dir: Path, params: ShardParams, rows: list[dict], seed: int) -> None:
    """Wipe shards packed from another plan; record the current one.

    The plan covers what the shards hold: every row's key, SHA-256 and JSON fields in packing
    order, so a manifest re-made after a file changed (same keys) is not served stale shards.
    """
    content = json.dumps([[r.get(f) for f in _JSON_FIELDS] for r in rows], default=str)
    fingerprint = {
        "params": params.model_dump(mode="json", exclude={"manifest"}),
        "seed": seed,
        "rows_sha256": hashlib.sha256(content.encode()).hexdigest(),
    }
    path = out_dir / "plan.json"
    if path.exists() and json.loads(path.read_text()) == fingerprint:
        return
    for old in out_dir.glob("shard-*"):
        old.unlink() if old.is_file() else shutil.rmtree(old)
    atomic_write_text(path, json.dumps(fingerprint, indent=1))


def _complete(out_dir: Path, name: str) -> dict | None:
    """The stats of a finished shard, or ``None`` when it must be (re)written.

    Finished means: stats file readable and its tar present with the recorded size (the tar
    is renamed into place before the stats, so a crash between the two leaves no stats).
    """
    try:
        stats = json.loads((out_dir / f"{name}.json").read_text())
        if (out_dir / f"{name}.tar").stat().st_size == stats["bytes"]:
            return stats
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_one(out_dir: Path, name: str, rows: list[dict], params: ShardParams, tars) -> dict:
    index, reencoded = [], 0
    with atomic_path(out_dir / f"{name}.tar") as tmp, open(tmp, "wb") as sink:
        for pos, row in enumerate(rows):
            data = read_original(row["uri"], row["member"], tars)
            _check_unchanged(row, data)
            ext = _EXT.get(row["format"] or "")
            data, ext, size, changed = _maybe_reencode(data, ext, row, params)
            reencoded += changed
            meta = {f: row.get(f) for f in _JSON_FIELDS}
            meta.update(width=size[0], height=size[1], reencoded=changed)
            if changed:  # re-encoded pixels are already upright
                meta["orientation"] = 1
            # WebDataset's sample order: the key's files sorted by extension, like TarWriter.
            for suffix, blob in sorted({ext: data, "json": json.dumps(meta).encode()}.items()):
                _add(sink, f"{row['key']}.{suffix}", blob)
            index.append(
                {"key": row["key"], "shard": f"{name}.tar", "pos": pos, "ext": ext,
                 "bytes": len(data), "width": size[0], "height": size[1],
                 "reencoded": changed}
            )  # fmt: skip
        _end(sink)
    stats = {
        "shard": f"{name}.tar",
        "count": len(rows),
        "bytes": (out_dir / f"{name}.tar").stat().st_size,
        "reencoded": reencoded,
        "first_key": rows[0]["key"],
        "last_key": rows[-1]["key"],
        "index": index,
    }
    atomic_write_text(out_dir / f"{name}.json", json.dumps(stats))
    return stats


def _check_unchanged(row: dict, data: bytes) -> None:
    """Refuse bytes that differ from what curation measured (the manifest's SHA-256)."""
    if row.get("sha256") and sha256_bytes(data) != row["sha256"]:
        where = f"{row['uri']}:{row['member']}" if row["member"] else row["uri"]
        raise ValueError(
            f"{where}: changed since curation (SHA-256 differs from the manifest); rerun qpt curate"
        )


def _add(sink: BinaryIO, name: str, data: bytes) -> None:
    """Append one member: the standard library's header (PAX for long names), the data, and
    zero padding to the 512-byte block."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444  # mtime 0: byte-identical reruns
    sink.write(info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape"))
    sink.write(data)
    sink.write(bytes(-len(data) % tarfile.BLOCKSIZE))


def _end(sink: BinaryIO) -> None:
    """End-of-archive marker (two zero blocks), padded to a whole record, as tarfile does."""
    sink.write(bytes(2 * tarfile.BLOCKSIZE))
    sink.write(bytes(-sink.tell() % tarfile.RECORDSIZE))


def _maybe_reencode(
    data: bytes, ext: str | None, row: dict, params: ShardParams
) -> tuple[bytes, str, tuple[int, int], bool]:
    """Original bytes unless a resize is asked for (or the format needs a lossless PNG)."""
    size = (int(row["width"] or 0), int(row["height"] or 0))
    too_big = params.max_side is not None and max(size) > params.max_side
    if ext is not None and not too_big:
        return data, ext, size, False
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        if too_big:
            im.thumbnail((params.max_side, params.max_side), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if params.resize_format == "jpeg" and im.mode == "RGB":
            im.save(buf, format="JPEG", quality=params.jpeg_quality, subsampling=0)
            ext = "jpg"
        else:
            im.save(buf, format="PNG")
            ext = "png"
        return buf.getvalue(), ext, im.size, True
