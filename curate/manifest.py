"""The manifest: one Parquet row per candidate, with every measurement and a reason code.

Invariant (checked on every write): ``candidates == kept + sum(rejected per reason)``, every
key unique, every rejected row carries a known reason code (:data:`curate.reasons.REASONS`).

``uri`` is an absolute path (or, for LAION rows never fetched, the URL), so the manifest
reads back from any working directory. ``source_reencoded`` says whether the tool that
fetched a sample stored other bytes than the server sent (img2dataset's own JSON tells;
null when it cannot).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.reasons import REASONS
from qpt_base.atomic import atomic_path

SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("source", pa.string()),
        ("uri", pa.string()),
        ("member", pa.string()),
        ("bytes", pa.int64()),
        ("format", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("mode", pa.string()),
        ("frames", pa.int32()),
        ("orientation", pa.int32()),
        ("sha256", pa.string()),
        ("phash", pa.string()),
        ("richness", pa.float64()),
        ("richness_exact", pa.bool_()),
        ("clip_score", pa.float64()),
        ("clip_negative", pa.float64()),
        ("text", pa.string()),
        ("similarity", pa.float64()),
        ("punsafe", pa.float64()),
        ("pwatermark", pa.float64()),
        ("aesthetic", pa.float64()),
        ("source_reencoded", pa.bool_()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("dup_of", pa.string()),
        ("unit", pa.int32()),
        ("pos", pa.int32()),
    ]
)


def to_table(records: list[dict]) -> pa.Table:
    """Records (dicts with the :data:`SCHEMA` fields) -> Arrow table."""
    return pa.Table.from_pylist(records, schema=SCHEMA)


def write_atomic(table: pa.Table, path: Path) -> None:
    """Write Parquet to ``path`` through a temporary file and a rename (never half-written)."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def check(records: list[dict]) -> dict[str, int]:
    """Check the accounting invariant and return the counts.

    Returns:
        ``{"candidates": N, "kept": K, "rejected.<reason>": n, ...}``.

    Raises:
        RuntimeError: a broken invariant (a bug, not a user error).
    """
    counts = Counter(r["reason"] or "" for r in records)
    kept = counts.pop("", 0)
    unknown = set(counts) - set(REASONS)
    if unknown:
        raise RuntimeError(f"manifest: unknown reason codes {sorted(unknown)}")
    if len({r["key"] for r in records}) != len(records):
        dup = [k for k, n in Counter(r["key"] for r in records).items() if n > 1][:3]
        raise RuntimeError(f"manifest: duplicate keys {dup}")
    bad_status = [
        r["key"] for r in records if r["status"] != ("rejected" if r["reason"] else "kept")
    ]
    if bad_status:
        raise RuntimeError(f"manifest: status and reason disagree for {bad_status[:3]}")
    rejected = sum(counts.values())
    if kept + rejected != len(records):
        raise RuntimeError("manifest: candidates != kept + rejected")
    out = {"candidates": len(records), "kept": kept, "rejected": rejected}
    out.update({f"rejected.{k}": v for k, v in sorted(counts.items())})
    return out


def read_manifest(path: Path) -> pa.Table:
    """Read a manifest, checking it has the columns shards need.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a qpt manifest.
    """
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path}: no such file (run 'qpt curate' first)")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"manifest {path}: not a Parquet file ({exc})") from exc
    missing = {"key", "uri", "member", "status", "format"} - set(table.column_names)
    if missing:
        raise ValueError(f"manifest {path}: missing columns {sorted(missing)}")
    return table
