"""Source ``laion``: LAION parquet metadata joined with the images img2dataset fetched.

Input as produced by img2dataset (https://github.com/rom1504/img2dataset), e.g.::

    img2dataset --url_list laion_part.parquet --input_format parquet \\
        --url_col URL --caption_col TEXT --output_format webdataset \\
        --output_folder laion_images --processes_count 16 --thread_count 64 \\
        --resize_mode no --skip_reencode True \\
        --save_additional_columns '["similarity","punsafe","pwatermark"]'

img2dataset decodes and re-encodes every image (JPEG, ``--encode_quality``) unless
``--skip_reencode True`` and nothing changes it: no resize (``--resize_mode no``), no alpha
to flatten, and a served format equal to ``--encode_format``. ``--resize_mode no`` alone
still re-encodes. qpt learns image quality, so keep the served bytes; whether a sample was
re-encoded is read from img2dataset's own JSON (``width``/``height`` against
``original_width``/``original_height``, and its hash of the served bytes, ``sha256`` by
default, against the stored bytes) into the manifest's ``source_reencoded`` column.

Output layout read (``--output_format webdataset`` or ``files``), per shard ``NNNNN``:
``NNNNN.tar`` (or a folder ``NNNNN/``) with ``KEY.jpg``/``KEY.json``/``KEY.txt`` for each
fetched sample, ``NNNNN.parquet`` listing every input row of the shard (``url``, ``key``,
``status``, ``error_message``, ...) and ``NNNNN_stats.json`` written when the shard is done.

Join: the k-th metadata row with URL ``u`` (files in sorted order, rows in order) is the
k-th img2dataset entry with URL ``u`` (entries in key order, which is input order), so a
URL listed twice is two rows, each accounted for once. Every metadata row is a candidate:
rejected by its metadata (before any image is opened), ``not_fetched`` (with
img2dataset's own ``status``/``error_message``), or measured like any image. Fetched
samples without a metadata row are ``no_metadata``. Details name the user's parquet file
and row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from curate.candidate import Candidate, Unit
from curate.filters import laion_reason
from curate.params import CurateParams
from curate.sources.tario import iter_samples

SOURCE = "laion"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
# our field -> (the CurateParams field naming its metadata column, the threshold reading it)
FIELDS = {
    "url": ("url_col", None),
    "text": ("caption_col", None),
    "width": ("width_col", None),
    "height": ("height_col", None),
    "similarity": ("similarity_col", "min_laion_similarity"),
    "punsafe": ("punsafe_col", "max_punsafe"),
    "pwatermark": ("pwatermark_col", "max_pwatermark"),
    "aesthetic": ("aesthetic_col", None),
}
_FLOATS = ("width", "height", "similarity", "punsafe", "pwatermark", "aesthetic")
# One row per sample img2dataset fetched into a shard, with its metadata row when matched.
SHARD_SCHEMA = pa.schema(
    [("key", pa.string()), ("url", pa.string()), ("file", pa.string()), ("row", pa.int64()),
     ("gidx", pa.int64()), ("text", pa.string())]
    + [(n, pa.float64()) for n in _FLOATS]
    + [("reason", pa.string()), ("note", pa.string())]
)  # fmt: skip
# img2dataset's --compute_hash names a hashlib algorithm; its JSON field has that name.
_HASHES = ("sha256", "md5", "sha1", "sha512")


class Entry(NamedTuple):
    """One input row as img2dataset reports it (its shard parquet, or a sample's JSON)."""

    shard: int
    key: str
    url: str
    status: str
    error: str


def list_shards(path: Path) -> list[Path]:
    """img2dataset shards under ``path`` (absolute): ``*.tar`` files and ``files`` folders.

    Raises:
        FileNotFoundError: ``path`` is missing or holds no shard.
    """
    if not path.is_dir():
        raise FileNotFoundError(f"laion source: img2dataset folder {path} does not exist")
    path = path.resolve()
    shards = [p for p in path.iterdir() if (p.is_file() and p.suffix == ".tar") or p.is_dir()]
    shards = [p for p in shards if not p.name.startswith((".", "_"))]
    if not shards:
        raise FileNotFoundError(f"laion source: no img2dataset shard (*.tar or NNNNN/) in {path}")
    return sorted(shards)


def _metadata_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path.resolve()]
    files = sorted(path.resolve().glob("*.parquet")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"laion source: no metadata parquet at {path}")
    return files


def _shard_table(shard: Path) -> Path:
    return shard.with_suffix(".parquet") if shard.is_file() else Path(f"{shard}.parquet")


def _shard_entries(index: int, shard: Path) -> list[Entry]:
    """Every input row of one shard as img2dataset reports it, in key order.

    Raises:
        ValueError: the shard's parquet lacks img2dataset's ``url`` or ``key`` column.
    """
    table_path = _shard_table(shard)
    if not table_path.is_file():  # no table: the samples' JSONs (fetched ones only)
        entries = []
        for stem, files, _ in _iter_shard(shard, with_bytes=False):
            info = _json(files)
            entries.append(Entry(index, _key(stem), str(info.get("url") or ""), "success", ""))
        return sorted(entries, key=lambda e: e.key)
    names = pq.ParquetFile(table_path).schema_arrow.names
    missing = {"url", "key"} - set(names)
    if missing:
        raise ValueError(f"{table_path}: not an img2dataset shard table (no {sorted(missing)})")
    wanted = [c for c in ("key", "url", "status", "error_message") if c in names]
    rows = pq.read_table(table_path, columns=wanted).to_pylist()
    entries = [
        Entry(index, str(r["key"]), r["url"] or "", r.get("status") or "success",
              r.get("error_message") or "")
        for r in rows
    ]  # fmt: skip
    return sorted(entries, key=lambda e: e.key)


def prepare(
    params: CurateParams, work_dir: Path, warnings: list[str] | None = None
) -> tuple[list[Unit], list[Candidate]]:
    """Join metadata rows and img2dataset entries; metadata filters run here, before any
    image is read.

    Args:
        warnings: gets one line per threshold left unapplied (its column is absent) and
            per shard img2dataset has not finished.

    Returns:
        one unit per img2dataset shard (payload: shard path, its join table), and the
        candidates settled by metadata alone (rows never fetched).

    Raises:
        ValueError: a metadata file has no URL column, or a shard table is not
            img2dataset's.
    """
    assert params.path is not None and params.metadata is not None
    warnings = warnings if warnings is not None else []
    shards = list_shards(params.path)
    entries = [e for i, shard in enumerate(shards) for e in _shard_entries(i, shard)]
    entries.sort(key=lambda e: e.key)
    queue: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        queue.setdefault(entry.url, []).append(i)
    used: Counter[str] = Counter()
    matched: dict[int, dict] = {}
    settled: list[Candidate] = []
    unapplied: dict[tuple[str, str], list[str]] = {}
    for row in _metadata_rows(params, unapplied):
        waiting = queue.get(row["url"], [])
        if used[row["url"]] < len(waiting):
            i = waiting[used[row["url"]]]
            used[row["url"]] += 1
            if entries[i].status == "success":
                matched[i] = row
                continue
            why = f"img2dataset {entries[i].status}: {entries[i].error or 'no message'}"
        elif waiting:
            why = f"img2dataset lists this url {len(waiting)} time(s), all matched to earlier rows"
        else:
            why = "url not in the img2dataset output"
        settled.append(_unfetched(row, why))
    warnings += [
        f"{threshold} not applied to {_some(files)}: no column {column!r}"
        for (threshold, column), files in unapplied.items()
    ]
    warnings += _unfinished(shards)
    return _write_units(shards, entries, matched, used, work_dir), settled


def _metadata_rows(
    params: CurateParams, unapplied: dict[tuple[str, str], list[str]]
) -> Iterator[dict]:
    """Metadata rows in order, as our fields plus ``file``, ``row`` (in the file), ``gidx``
    (over all files) and ``reason`` (from the metadata alone, ``""`` when it passes)."""
    assert params.metadata is not None
    gidx = 0
    for meta_file in _metadata_files(params.metadata):
        columns = _columns(meta_file, params, unapplied)
        batches = pq.ParquetFile(meta_file).iter_batches(columns=list(columns), batch_size=65536)
        row_in_file = 0
        for batch in batches:
            for raw in batch.to_pylist():
                row = {ours: raw.get(theirs) for theirs, ours in columns.items()}
                row.update(file=meta_file.name, row=row_in_file, gidx=gidx)
                row["reason"] = laion_reason(row, params)
                row_in_file, gidx = row_in_file + 1, gidx + 1
                yield row


def _some(names: list[str], shown: int = 3) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def _write_units(
    shards: list[Path], entries: list[Entry], matched: dict[int, dict], used: Counter,
    work_dir: Path,
) -> list[Unit]:  # fmt: skip
    per_shard: list[list[dict]] = [[] for _ in shards]
    for i, entry in enumerate(entries):
        if entry.status != "success":
            continue
        row = matched.get(i)
        if row is None:
            n = used[entry.url]
            note = f"url {entry.url!r} " + (
                f"listed {n} time(s) in the metadata, all matched to earlier samples"
                if n
                else "not in the metadata"
            )
            row = {"note": note}
        per_shard[entry.shard].append({**row, "key": entry.key, "url": entry.url})
    work_dir.mkdir(parents=True, exist_ok=True)
    units = []
    for index, (shard, rows) in enumerate(zip(shards, per_shard, strict=True)):
        table_path = work_dir / f"laion-join-{index:05d}.parquet"
        full = [{f.name: r.get(f.name) for f in SHARD_SCHEMA} for r in rows]
        pq.write_table(pa.Table.from_pylist(full, schema=SHARD_SCHEMA), table_path)
        units.append(Unit(index, SOURCE, str(shard), (str(shard), str(table_path))))
    return units


def _unfinished(shards: list[Path]) -> list[str]:
    """Shards without img2dataset's ``NNNNN_stats.json`` (written when a shard is done)."""
    missing = [s.name for s in shards if not (s.parent / f"{s.stem}_stats.json").is_file()]
    if not missing:
        return []
    return [
        f"img2dataset has not finished {_some(missing)} (no NNNNN_stats.json): rerun it to complete"
    ]


def _columns(
    meta_file: Path, params: CurateParams, unapplied: dict[tuple[str, str], list[str]]
) -> dict[str, str]:
    """Metadata column -> our field, for the columns present (exact name, else any case).

    Raises:
        ValueError: no URL column.
    """
    names = pq.ParquetFile(meta_file).schema_arrow.names
    by_lower = {n.lower(): n for n in names}
    chosen = {}
    for ours, (param, threshold) in FIELDS.items():
        wanted = getattr(params, param)
        found = wanted if wanted in names else by_lower.get(wanted.lower())
        if found is not None:
            chosen[found] = ours
        elif ours == "url":
            raise ValueError(
                f"laion metadata {meta_file}: no URL column {wanted!r} (columns: "
                f"{', '.join(names)}); name it with url_col (--url-col)"
            )
        elif threshold is not None and getattr(params, threshold) is not None:
            unapplied.setdefault((threshold, wanted), []).append(meta_file.name)
    return chosen


def _unfetched(row: dict, why: str) -> Candidate:
    cand = Candidate(key=f"meta-{row['gidx']:09d}", source=SOURCE, uri=row["url"] or "")
    cand.meta = _meta_fields(row)
    cand.reason = row["reason"] or "not_fetched"
    cand.detail = f"{row['file']} row {row['row']}: {why}"
    return cand


def _meta_fields(row: dict) -> dict:
    fields = ("text", "similarity", "punsafe", "pwatermark", "aesthetic")
    meta = {k: row.get(k) for k in fields if row.get(k) is not None}
    if row.get("width") is not None and row.get("height") is not None:
        meta["declared_width"], meta["declared_height"] = int(row["width"]), int(row["height"])
    return meta


def _key(stem: str) -> str:
    return stem.rpartition("/")[2] or "unnamed"


def _json(files: dict) -> dict:
    try:
        info = json.loads(files["json"][1]) if "json" in files else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _iter_shard(shard: Path, with_bytes: bool = True) -> Iterator[tuple[str, dict, str]]:
    """``(stem, {ext: (name, bytes)}, error)`` per sample of a tar or ``files`` folder."""
    if not shard.is_dir():
        yield from iter_samples(shard)
        return
    names = sorted(os.listdir(shard))
    for stem in sorted({n.partition(".")[0] for n in names if not n.startswith(".")}):
        files, error = {}, ""
        for ext in ("json", "txt", *IMAGE_EXTS):
            path = shard / f"{stem}.{ext}"
            if path.is_file() and (with_bytes or ext == "json"):
                try:
                    files[ext] = (path.name, path.read_bytes())
                except OSError as exc:
                    files[ext], error = (path.name, b""), f"{type(exc).__name__}: {exc}"
        yield stem, files, error


def source_reencoded(info: dict, data: bytes) -> bool | None:
    """Whether img2dataset stored other bytes than the server sent, from its JSON.

    ``True`` when it resized (``width``/``height`` differ from ``original_*``) or its hash
    of the served bytes differs from the stored bytes' hash; ``False`` when the hashes are
    equal; ``None`` when the JSON cannot tell (no hash field, size unchanged).
    """
    size = [info.get(k) for k in ("width", "height", "original_width", "original_height")]
    if None not in size and size[:2] != size[2:]:
        return True
    for algo in _HASHES:
        served = info.get(algo)
        if isinstance(served, str) and served:
            return hashlib.new(algo, data).hexdigest() != served
    return None


def iter_candidates(unit: Unit) -> Iterator[Candidate]:
    """Fetched samples of the shard, each with its metadata row (or ``no_metadata``).

    A sample whose metadata row failed a threshold keeps that reason and its bytes are
    never decoded.
    """
    shard, table_path = unit.payload
    rows = {r["key"]: r for r in pq.read_table(table_path).to_pylist()}
    for stem, files, error in _iter_shard(Path(shard)):
        cand = _fetched(shard, stem, files, error)
        row = rows.pop(_key(stem), None)
        if row is None or row["file"] is None:
            if not cand.reason:
                cand.reason = "no_metadata"
                listing = _shard_table(Path(shard)).name
                cand.detail = row["note"] if row else f"key not listed in {listing}"
            yield cand
            continue
        cand.meta.update(_meta_fields(row))
        where = f"{row['file']} row {row['row']}"
        if cand.reason:
            cand.detail = f"{where}: {cand.detail}"
        elif row["reason"]:
            cand.reason, cand.data, cand.detail = row["reason"], None, where
        else:
            cand.detail = where
        yield cand
    for row in rows.values():  # listed as fetched by img2dataset, but not in the shard
        if row["file"] is not None:
            why = f"img2dataset lists key {row['key']} as fetched, {Path(shard).name} lacks it"
            yield _unfetched(row, why)


def _fetched(shard: str, stem: str, files: dict, error: str) -> Candidate:
    key = _key(stem)
    cand = Candidate(key=f"laion-{key}", source=SOURCE, uri=shard)
    image = next((files[e] for e in IMAGE_EXTS if e in files), None)
    if image is not None:
        name, cand.data = image
        if Path(shard).is_dir():
            cand.uri = str(Path(shard) / name)
        else:
            cand.member = name
        if not error:
            cand.meta["source_reencoded"] = source_reencoded(_json(files), cand.data)
    if error:
        cand.reason, cand.detail = "unreadable", error
    elif image is None:
        cand.reason, cand.detail = "unreadable", f"no image member for {stem!r}"
    return cand
