"""Threshold decisions shared by the metadata pre-filter and the header filter."""

from __future__ import annotations

from curate.params import CurateParams


def resolution_reason(width: int, height: int, params: CurateParams) -> str:
    """``too_small``, ``bad_aspect`` or ``""`` for an image of ``width x height``."""
    short, long = min(width, height), max(width, height)
    if short < params.min_short_side or width * height < params.min_pixels or short <= 0:
        return "too_small"
    if params.max_aspect is not None and long / short > params.max_aspect:
        return "bad_aspect"
    return ""


def laion_reason(row: dict, params: CurateParams) -> str:
    """Reason code from LAION metadata alone (no image opened), ``""`` when it passes.

    Missing values (null) pass: a threshold only rejects what it can measure.
    """
    width, height = row.get("width"), row.get("height")
    if width is not None and height is not None:
        reason = resolution_reason(int(width), int(height), params)
        if reason:
            return reason
    checks = (
        ("punsafe", params.max_punsafe, "unsafe", 1),
        ("pwatermark", params.max_pwatermark, "watermark", 1),
        ("similarity", params.min_laion_similarity, "low_similarity", -1),
    )
    for column, limit, reason, sign in checks:
        value = row.get(column)
        if limit is not None and value is not None and sign * (value - limit) > 0:
            return reason
    return ""
