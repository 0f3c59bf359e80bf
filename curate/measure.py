"""The per-unit map: read, inspect, measure and filter every candidate of one unit.

Runs in a worker (process pool or Ray task). Cheap checks come first so most rejects never
get decoded: source -> header (format, size, frames) -> resolution -> decode -> pHash ->
richness -> CLIP. Duplicates are settled later, globally (:mod:`curate.dedup`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from curate.candidate import Candidate, Unit
from curate.filters import resolution_reason
from curate.header import scan_header
from curate.params import CurateParams
from curate.phash import phash_from_grey, to_hex
from curate.richness import estimate_objects
from qpt_base.images import ImageTooLarge, decode_rgb

DECODE_SIDE = 256
CLIP_BATCH = 32


def empty_record(cand: Candidate, unit: Unit, pos: int) -> dict:
    """A manifest row with the source's fields and nothing measured yet."""
    meta = cand.meta
    return {
        "key": cand.key,
        "source": cand.source,
        "uri": cand.uri,
        "member": cand.member,
        "bytes": len(cand.data) if cand.data is not None else None,
        "format": None,
        "width": meta.get("declared_width"),
        "height": meta.get("declared_height"),
        "mode": None,
        "frames": None,
        "orientation": None,
        "sha256": None,
        "phash": None,
        "richness": meta.get("objects"),
        "richness_exact": "objects" in meta,
        "clip_score": None,
        "clip_negative": None,
        "text": meta.get("text"),
        "similarity": meta.get("similarity"),
        "punsafe": meta.get("punsafe"),
        "pwatermark": meta.get("pwatermark"),
        "aesthetic": meta.get("aesthetic"),
        "source_reencoded": meta.get("source_reencoded"),
        "status": None,
        "reason": cand.reason,
        "detail": cand.detail,
        "dup_of": None,
        "unit": unit.index,
        "pos": pos,
    }


def measure_candidate(cand: Candidate, rec: dict, params: CurateParams) -> np.ndarray | None:
    """Fill ``rec`` in place up to (not including) CLIP.

    Returns:
        the decoded ``(H, W, 3)`` uint8 image (long side <= 256) when the candidate is still
        alive, else ``None`` (``rec["reason"]`` says why).
    """
    data = cand.data
    if rec["reason"] or data is None:
        rec["reason"] = rec["reason"] or "unreadable"
        return None
    if not data:
        rec["reason"] = "empty"
        return None
    rec["sha256"] = hashlib.sha256(data).hexdigest()
    try:
        header = scan_header(data)
    except ImageTooLarge as exc:
        rec["reason"], rec["detail"] = "decompression_bomb", str(exc)
        return None
    except ValueError as exc:
        rec["reason"], rec["detail"] = "not_image", str(exc)
        return None
    rec.update(format=header.format, width=header.width, height=header.height)
    rec.update(mode=header.mode, frames=header.frames, orientation=header.orientation)
    if header.width * header.height > params.max_pixels:
        rec["reason"] = "decompression_bomb"
        rec["detail"] = f"{header.width}x{header.height} > max_pixels={params.max_pixels}"
        return None
    if header.frames > 1:
        rec["reason"] = "animated"
        return None
    reason = resolution_reason(header.width, header.height, params)
    if reason:
        rec["reason"] = reason
        return None
    try:
        rgb = decode_rgb(data, params.max_pixels, max_side=DECODE_SIDE)
    except ValueError as exc:
        rec["reason"], rec["detail"] = "corrupt", str(exc)
        return None
    rec["phash"] = to_hex(_phash_rgb(rgb))
    if params.richness and not rec["richness_exact"]:
        rec["richness"] = estimate_objects(rgb, params.richness_scale, params.richness_method)
    if params.min_richness is not None and (rec["richness"] or 0.0) < params.min_richness:
        rec["reason"] = "low_richness"
        return None
    return rgb


def phash_bytes(data: bytes) -> np.ndarray:
    """The ``(8,)`` uint8 pHash curation records for an encoded image (same decode path)."""
    return _phash_rgb(decode_rgb(data, max_side=DECODE_SIDE))


def _phash_rgb(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    grey = Image.fromarray(rgb).convert("L").resize((32, 32), Image.Resampling.BOX)
    return phash_from_grey(np.asarray(grey, dtype=np.float32)[None])[0]


def process_unit(unit: Unit, params: CurateParams) -> tuple[list[dict], np.ndarray | None]:
    """Measure every candidate of ``unit``.

    Returns:
        one record per candidate, in the unit's order, and, when CLIP is on, ``(N, D)``
        float32 embeddings aligned with the records (zero rows where none was computed).
    """
    from curate.sources import iter_unit

    records: list[dict] = []
    pending: list[tuple[int, np.ndarray]] = []
    embeddings: dict[int, np.ndarray] = {}
    scorer = _scorer(params)
    for pos, cand in enumerate(iter_unit(unit)):
        rec = empty_record(cand, unit, pos)
        rgb = measure_candidate(cand, rec, params)
        records.append(rec)
        if rgb is not None and scorer is not None:
            pending.append((pos, rgb))
            if len(pending) >= CLIP_BATCH:
                _score(scorer, pending, records, embeddings, params)
    if scorer is None:
        return records, None
    _score(scorer, pending, records, embeddings, params)
    dim = scorer.positive.shape[1]
    out = np.zeros((len(records), dim), np.float32)
    for pos, emb in embeddings.items():
        out[pos] = emb
    return records, out


def _scorer(params: CurateParams):
    if params.clip_model is None or params.clip_weights is None:
        return None
    from curate.clip_score import cached_scorer

    config = None if params.clip_config is None else str(params.clip_config)
    return cached_scorer(
        params.clip_model,
        params.clip_weights,
        tuple(params.positive_prompts),
        tuple(params.negative_prompts),
        config,
    )


def _score(scorer, pending, records, embeddings, params: CurateParams) -> None:
    if not pending:
        return
    emb = scorer.embed([rgb for _, rgb in pending])
    pos_best, neg_best = scorer.scores(emb)
    for (pos, _), e, p, n in zip(pending, emb, pos_best, neg_best, strict=True):
        rec = records[pos]
        embeddings[pos] = e
        rec["clip_score"] = float(p)
        rec["clip_negative"] = None if not np.isfinite(n) else float(n)
        if params.min_clip_score is not None and p < params.min_clip_score:
            rec["reason"] = "low_clip_score"
        elif params.negative_margin is not None and n > p + params.negative_margin:
            rec["reason"] = "negative_prompt"
    pending.clear()
