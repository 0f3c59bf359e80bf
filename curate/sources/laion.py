"""Source ``laion``: LAION parquet metadata joined with the images img2dataset fetched.

Input as produced by img2dataset (https://github.com/rom1504/img2dataset), e.g.::

    img2dataset --url_list laion_part.parquet --input_format parquet \\
        --url_col URL --caption_col TEXT --output_format webdataset \\
        --output_folder laion_images --processes_count 16 --thread_count 64 \\
        --resize_mode no --encode_quality 95 --save_additional_columns '["similarity"]'

``--resize_mode no`` keeps the original bytes (qpt learns quality: no re-encoding).
``--output_format files`` works too. Either way img2dataset writes, per shard ``NNNNN``,
``NNNNN.tar`` (or a folder ``NNNNN/``) with ``KEY.jpg``/``KEY.json``/``KEY.txt`` and
``NNNNN.parquet`` (``url``, ``key``, ``status``, ...). Rows are joined on the URL.

Every metadata row is a candidate: rejected by its metadata (before any image is opened),
``not_fetched`` when img2dataset has no image for it, or measured like any image. Fetched
samples whose URL is not in the metadata are ``no_metadata`` rows.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.candidate import Candidate, Unit
from curate.filters import laion_reason
from curate.params import CurateParams
from curate.sources.tario import iter_samples

SOURCE = "laion"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
# metadata column -> (our name, the parameter that needs it, or None when optional)
COLUMNS = {
    "URL": ("url", "always"),
    "TEXT": ("text", None),
    "WIDTH": ("width", "min_short_side"),
    "HEIGHT": ("height", "min_short_side"),
    "similarity": ("similarity", "min_laion_similarity"),
    "punsafe": ("punsafe", "max_punsafe"),
    "pwatermark": ("pwatermark", "max_pwatermark"),
    "aesthetic": ("aesthetic", None),
}
META_SCHEMA = pa.schema(
    [("url", pa.string()), ("row", pa.int64()), ("text", pa.string())]
    + [(n, pa.float64()) for n in ("width", "height", "similarity", "punsafe", "pwatermark")]
    + [("aesthetic", pa.float64()), ("reason", pa.string())]
)


def list_shards(path: Path) -> list[Path]:
    """img2dataset shards under ``path``: ``*.tar`` files and ``files``-layout folders.

    Raises:
        FileNotFoundError: ``path`` is missing or holds no shard.
    """
    if not path.is_dir():
        raise FileNotFoundError(f"laion source: img2dataset folder {path} does not exist")
    shards = [p for p in path.iterdir() if (p.is_file() and p.suffix == ".tar") or p.is_dir()]
    shards = [p for p in shards if not p.name.startswith((".", "_"))]
    if not shards:
        raise FileNotFoundError(f"laion source: no img2dataset shard (*.tar or NNNNN/) in {path}")
    return sorted(shards)


def _metadata_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.parquet")) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"laion source: no metadata parquet at {path}")
    return files


def _shard_urls(shard: Path) -> list[str]:
    """URLs img2dataset fetched into ``shard`` (its parquet when present, else its JSONs)."""
    table_path = shard.with_suffix(".parquet") if shard.is_file() else Path(f"{shard}.parquet")
    if table_path.is_file():
        table = pq.read_table(table_path, columns=["url", "status"]).to_pylist()
        return [r["url"] for r in table if r["status"] == "success"]
    return [url for _, url in _iter_fetched(shard, with_bytes=False) if url]


def _iter_fetched(shard: Path, with_bytes: bool = True) -> Iterator[tuple[Candidate, str]]:
    """Fetched samples of one shard as ``(candidate, url)`` (``meta`` holds the JSON)."""
    if shard.is_dir():
        names = sorted(os.listdir(shard))
        stems = sorted({n.partition(".")[0] for n in names if not n.startswith(".")})
        for stem in stems:
            files = {}
            for ext in ("json", "txt", *IMAGE_EXTS):
                path = shard / f"{stem}.{ext}"
                if path.is_file() and (with_bytes or ext == "json"):
                    try:
                        files[ext] = (path.name, path.read_bytes())
                    except OSError as exc:
                        files[ext] = (path.name, b"")
                        files["error"] = ("", str(exc).encode())
            yield _fetched(str(shard), stem, files, "")
    else:
        for stem, files, error in iter_samples(shard):
            yield _fetched(str(shard), stem, files, error)


def _fetched(uri: str, stem: str, files: dict, error: str) -> tuple[Candidate, str]:
    key = stem.rpartition("/")[2] or "unnamed"
    cand = Candidate(key=f"laion-{key}", source=SOURCE, uri=uri)
    url = ""
    try:
        info = json.loads(files["json"][1]) if "json" in files else {}
        url = str(info.get("url") or "")
    except ValueError:
        info = {}
    image = next((files[e] for e in IMAGE_EXTS if e in files), None)
    if image is not None:
        name, cand.data = image
        cand.member = name if not Path(uri).is_dir() else ""
        if Path(uri).is_dir():
            cand.uri = str(Path(uri) / name)
    if error or "error" in files:
        cand.reason, cand.detail = "unreadable", error or files["error"][1].decode()
    elif image is None:
        cand.reason, cand.detail = "unreadable", f"no image member for {stem!r}"
    return cand, url


def prepare(params: CurateParams, work_dir: Path) -> tuple[list[Unit], list[Candidate]]:
    """Join metadata and fetched images; metadata filters run here, before any image read.

    Returns:
        one unit per img2dataset shard (payload: shard path, its metadata table), and the
        candidates settled by metadata alone (``not_fetched`` rows).

    Raises:
        ValueError: a metadata file lacks a column that is required or that a set threshold
            needs.
    """
    assert params.path is not None and params.metadata is not None
    shards = list_shards(params.path)
    url_shard: dict[str, int] = {}
    for index, shard in enumerate(shards):
        for url in _shard_urls(shard):
            url_shard.setdefault(url, index)
    per_shard: list[list[dict]] = [[] for _ in shards]
    settled: list[Candidate] = []
    row_index = 0
    for meta_file in _metadata_files(params.metadata):
        columns = _columns(meta_file, params)
        for batch in pq.ParquetFile(meta_file).iter_batches(
            columns=list(columns), batch_size=65536
        ):
            for raw in batch.to_pylist():
                row = {ours: raw.get(theirs) for theirs, ours in columns.items()}
                row["row"], row["reason"] = row_index, laion_reason(row, params)
                row_index += 1
                shard = url_shard.get(row["url"])
                if shard is None:
                    settled.append(_unfetched(row, meta_file))
                else:
                    per_shard[shard].append(row)
    work_dir.mkdir(parents=True, exist_ok=True)
    units = []
    for index, (shard, rows) in enumerate(zip(shards, per_shard, strict=True)):
        table_path = work_dir / f"laion-meta-{index:05d}.parquet"
        full = [{f.name: r.get(f.name) for f in META_SCHEMA} for r in rows]
        pq.write_table(pa.Table.from_pylist(full, schema=META_SCHEMA), table_path)
        units.append(Unit(index, SOURCE, str(shard), (str(shard), str(table_path))))
    return units, settled


def _columns(meta_file: Path, params: CurateParams) -> dict[str, str]:
    present = set(pq.ParquetFile(meta_file).schema_arrow.names)
    chosen = {}
    for theirs, (ours, needed_by) in COLUMNS.items():
        if theirs in present:
            chosen[theirs] = ours
        elif needed_by == "always" or (
            needed_by is not None and getattr(params, needed_by) not in (None, 0)
        ):
            raise ValueError(
                f"laion metadata {meta_file}: missing column '{theirs}'"
                + ("" if needed_by == "always" else f" needed by {needed_by}")
            )
    return chosen


def _unfetched(row: dict, meta_file: Path) -> Candidate:
    cand = Candidate(key=f"meta-{row['row']:09d}", source=SOURCE, uri=row["url"] or "")
    cand.meta = _meta_fields(row)
    cand.reason = row["reason"] or "not_fetched"
    cand.detail = f"{meta_file.name} row {row['row']}"
    return cand


def _meta_fields(row: dict) -> dict:
    fields = ("text", "similarity", "punsafe", "pwatermark", "aesthetic")
    meta = {k: row.get(k) for k in fields if row.get(k) is not None}
    if row.get("width") is not None and row.get("height") is not None:
        meta["declared_width"], meta["declared_height"] = int(row["width"]), int(row["height"])
    return meta


def iter_candidates(unit: Unit) -> Iterator[Candidate]:
    """Fetched samples of the shard, each with its metadata row (or ``no_metadata``).

    A sample whose metadata row failed a threshold keeps that reason and its bytes are
    never decoded.
    """
    shard, table_path = unit.payload
    rows: dict[str, list[dict]] = {}
    for r in pq.read_table(table_path).to_pylist():
        rows.setdefault(r["url"], []).append(r)
    for cand, url in _iter_fetched(Path(shard)):
        row = rows[url].pop(0) if rows.get(url) else None
        if row is None:
            if not cand.reason:
                cand.reason, cand.detail = "no_metadata", f"url {url!r} not in metadata"
            yield cand
            continue
        cand.meta = _meta_fields(row)
        if not cand.reason and row["reason"]:
            cand.reason, cand.data = row["reason"], None
        yield cand
    # Rows listed in the shard's parquet but missing from its files, or repeated URLs.
    for left in rows.values():
        for row in left:
            yield _unfetched(row, Path(table_path))
