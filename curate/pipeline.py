"""``curate``: sources -> per-unit measurements (parallel, resumable) -> global dedup -> manifest.

Layout of the output folder::

    parts/plan.json            fingerprint of the parameters and units (stale parts are wiped)
    parts/unit-00000.parquet   records of one unit (atomic rename: present == complete)
    parts/unit-00000.npy       its CLIP embeddings, when CLIP is on
    parts/settled.parquet      candidates settled by the driver (LAION rows never fetched)
    manifest.parquet           the result (written last, atomically)
    qpt.lock                   held while a run writes here (a second writer is refused)
    report.png, rejections.png the pictures

A rerun reuses the complete parts and measures only the missing units, then redoes the
(deterministic) dedup: the manifest equals that of an uninterrupted run.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from rich.console import Console

from curate import dedup, manifest
from curate.executor import map_units
from curate.measure import empty_record, process_unit
from curate.params import CurateParams
from curate.phash import from_hex
from qpt_base.atomic import atomic_path, atomic_write_text, sweep_temporaries
from qpt_base.lock import folder_lock

# Bump when what a part holds changes, so parts of an older qpt are not reused.
PARTS_VERSION = 2
# Parameters that change how work is run, not what it gives: not part of the fingerprint.
_RUN_ONLY = {"workers", "executor", "address", "report", "examples_per_reason"}


def curate(params: CurateParams, out_dir: Path, console: Console | None = None) -> dict:
    """Run curation into ``out_dir`` and return the summary.

    Args:
        params: what to read, filter and dedup.
        out_dir: output folder (created; partial work inside it is resumed).
        console: where the progress bar goes (default: stderr).

    Returns:
        ``candidates``, ``kept``, ``rejected``, ``rejected.<reason>`` counts, ``seconds``,
        ``candidates_per_s``, ``units``, ``units_resumed`` and ``warnings`` (lines about
        what was not applied, e.g. a LAION threshold whose column is absent).

    Raises:
        FileNotFoundError / ValueError: missing or unusable input (one-line messages).
        FolderLocked: another run writes into ``out_dir`` (a ``ValueError``).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(out_dir, "curate"):
        return _curate(params, out_dir, console or Console(stderr=True))


def _curate(params: CurateParams, out_dir: Path, console: Console) -> dict:
    from curate.sources import existing_extra_folders, plan

    start = time.perf_counter()
    parts = out_dir / "parts"
    sweep_temporaries(out_dir)  # left by a run that died (the lock says none is alive)
    if parts.is_dir():
        sweep_temporaries(parts)
    warnings: list[str] = []
    units, settled = plan(params, out_dir / "work", warnings)
    _check_plan(parts, params, [u.name for u in units])

    settled_path = parts / "settled.parquet"
    if not settled_path.exists():
        from curate.candidate import Unit

        driver = Unit(-1, params.source, "driver", ())
        recs = [empty_record(c, driver, i) for i, c in enumerate(settled)]
        manifest.write_atomic(manifest.to_table(recs), settled_path)
    todo = [u for u in units if not _part(parts, u.index).exists()]
    _run_units(todo, params, parts, console)

    records = pq.read_table(settled_path).to_pylist()
    vectors: list[np.ndarray] = []
    for unit in units:
        records_u = pq.read_table(_part(parts, unit.index)).to_pylist()
        records.extend(records_u)
        emb_path = _part(parts, unit.index).with_suffix(".npy")
        if emb_path.exists():
            vectors.append(np.load(emb_path, allow_pickle=False))
        elif params.clip_model is not None:
            vectors.append(np.zeros((len(records_u), 1), np.float32))
    embeddings = None
    if vectors and params.embedding_threshold is not None:
        width = max(v.shape[1] for v in vectors)
        embeddings = np.zeros((len(records), width), np.float32)
        embeddings[len(records) - sum(len(v) for v in vectors) :] = np.concatenate(
            [np.pad(v, ((0, 0), (0, width - v.shape[1]))) for v in vectors]
        )
    apply_dedup(records, params, embeddings)
    for rec in records:
        rec["status"] = "rejected" if rec["reason"] else "kept"
    counts = manifest.check(records)
    manifest.write_atomic(manifest.to_table(records), out_dir / "manifest.parquet")
    seconds = time.perf_counter() - start
    if params.report:
        from curate.report import write_report

        write_report(records, out_dir, params.examples_per_reason)
    return {
        **counts,
        "seconds": round(seconds, 2),
        "candidates_per_s": round(len(records) / max(seconds, 1e-9), 1),
        "units": len(units),
        "units_resumed": len(units) - len(todo),
        "extra_folders_missing": len(params.extra_folders) - len(existing_extra_folders(params)),
        "warnings": warnings,
        "manifest": str(out_dir / "manifest.parquet"),
    }


def _part(parts: Path, index: int) -> Path:
    return parts / f"unit-{index:05d}.parquet"


def _check_plan(parts: Path, params: CurateParams, names: list[str]) -> None:
    """Wipe parts made with other parameters or inputs; record the current plan."""
    fingerprint = {
        "version": PARTS_VERSION,
        "params": params.model_dump(mode="json", exclude=_RUN_ONLY),
        "units": names,
    }
    plan_path = parts / "plan.json"
    if plan_path.exists():
        try:
            same = json.loads(plan_path.read_text()) == fingerprint
        except ValueError:
            same = False
        if same:
            return
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir(parents=True)
    atomic_write_text(plan_path, json.dumps(fingerprint, indent=1))


def _run_units(todo, params: CurateParams, parts: Path, console: Console) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"curate {params.source}", total=len(todo))
        for unit, (records, embeddings) in map_units(todo, params, process_unit):
            path = _part(parts, unit.index)
            if embeddings is not None:  # before the part: a part present means all is there
                with atomic_path(path.with_suffix(".npy")) as tmp, open(tmp, "wb") as handle:
                    np.save(handle, embeddings)
            manifest.write_atomic(manifest.to_table(records), path)
            bar.advance(task)


def apply_dedup(records: list[dict], params: CurateParams, embeddings: np.ndarray | None) -> None:
    """Mark duplicates in place: exact, then near (pHash), then embedding.

    Only rows still alive (no reason yet) take part; each stage sees the previous one's
    survivors. ``dup_of`` is the key of the member the group keeps.

    Raises:
        ValueError: two records share a key (``dup_of`` could not say which is meant).
    """
    _check_unique_keys(records)
    area = np.array([(r["width"] or 0) * (r["height"] or 0) for r in records], np.float64)
    size = np.array([r["bytes"] or 0 for r in records], np.float64)

    def mark(alive: list[int], pairs, reason: str) -> None:
        best = dedup.group_best(len(alive), pairs, area[alive], size[alive])
        for local, b in enumerate(best):
            if b != local:
                records[alive[local]]["reason"] = reason
                records[alive[local]]["dup_of"] = records[alive[b]]["key"]

    def alive() -> list[int]:
        return [i for i, r in enumerate(records) if not r["reason"] and r["sha256"]]

    if params.dedup_exact:
        rows = alive()
        mark(rows, dedup.exact_pairs([records[i]["sha256"] for i in rows]), "duplicate_exact")
    if params.phash_radius is not None:
        rows = [i for i in alive() if records[i]["phash"]]
        if rows:
            codes = np.stack([from_hex(records[i]["phash"]) for i in rows])
            mark(rows, dedup.hamming_pairs(codes, params.phash_radius), "duplicate_near")
    if embeddings is not None and params.embedding_threshold is not None:
        rows = [i for i in alive() if records[i]["clip_score"] is not None]
        if rows:
            pairs = dedup.embedding_pairs(embeddings[rows], params.embedding_threshold)
            mark(rows, pairs, "duplicate_embedding")
    # A copy marked in an earlier stage may point at a row a later stage marked: follow the
    # chain so dup_of always names the kept member.
    by_key = {r["key"]: r for r in records}
    for rec in records:
        while rec["dup_of"] and by_key[rec["dup_of"]]["dup_of"]:  # ends: keys are unique
            rec["dup_of"] = by_key[rec["dup_of"]]["dup_of"]


def _check_unique_keys(records: list[dict]) -> None:
    keys: dict[str, dict] = {}
    for rec in records:
        first = keys.setdefault(rec["key"], rec)
        if first is not rec:
            raise ValueError(
                f"curate: key {rec['key']} names two candidates ({first['uri']} and "
                f"{rec['uri']}): keys must be unique across sources and folders"
            )
