"""FAISS-backed dedup: exactness of the range searches, grouping, and near-dup recall/precision."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from curate import dedup
from curate.phash import hamming, phash


def _brute_pairs(codes: np.ndarray, radius: int) -> set[tuple[int, int]]:
    d = hamming(codes[:, None], codes[None])
    i, j = np.nonzero(np.triu(d <= radius, k=1))
    return set(zip(i.tolist(), j.tolist(), strict=True))


@pytest.mark.parametrize("flat_max", [10**9, 0], ids=["flat", "multi_index"])
@pytest.mark.parametrize("radius", [3, 8, 10])
def test_hamming_pairs_exact_inclusive(monkeypatch, flat_max: int, radius: int) -> None:
    monkeypatch.setattr(dedup, "BINARY_FLAT_MAX", flat_max)
    rng = np.random.default_rng(radius)
    codes = rng.integers(0, 256, (400, 8), dtype=np.uint8)
    bits = np.unpackbits(codes[:100], axis=1)
    for row, k in zip(bits, rng.integers(0, radius + 3, 100), strict=True):
        row[rng.choice(64, size=k, replace=False)] ^= 1  # planted: some in, some just out
    codes[300:] = np.packbits(bits, axis=1)
    i, j = dedup.hamming_pairs(codes, radius)
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == _brute_pairs(codes, radius)
    assert len(i) > 0


@pytest.mark.parametrize("flat_max", [10**9, 50], ids=["flat", "ivf"])
def test_embedding_pairs(monkeypatch, flat_max: int) -> None:
    monkeypatch.setattr(dedup, "EMBED_FLAT_MAX", flat_max)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    x[500:] = x[:100] + 0.05 * rng.normal(size=(100, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    i, j = dedup.embedding_pairs(x, 0.95)
    truth = {(k, 500 + k) for k in range(100)}
    found = set(zip(i.tolist(), j.tolist(), strict=True))
    assert found <= {(a, b) for a, b in found if (x[a] @ x[b]) > 0.95}
    recall = len(found & truth) / len(truth)
    assert recall == 1.0 if flat_max > 600 else recall >= 0.9


def test_group_best_transitive_largest_then_bigger_file_then_first() -> None:
    # 0~1, 1~2 (one group through 1), 3~4, 5 alone
    pairs = (np.array([0, 1, 3]), np.array([1, 2, 4]))
    area = np.array([10, 50, 50, 7, 7, 1])
    size = np.array([0, 100, 200, 5, 5, 0])
    best = dedup.group_best(6, pairs, area, size)
    assert best.tolist() == [2, 2, 2, 3, 3, 5]


def test_exact_pairs_link_to_first() -> None:
    i, j = dedup.exact_pairs(["a", "b", "a", "a", "c"])
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 2), (0, 3)]


def _made_duplicates(im: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    w, h = im.size
    out = {}
    for q in (40, 70, 95):
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=q)
        out[f"jpeg{q}"] = Image.open(buf)
    out["resize0.5"] = im.resize((w // 2, h // 2), Image.Resampling.BICUBIC)
    out["colour"] = ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.05)).enhance(1.1)
    f = rng.uniform(0.05, 0.10)
    dx, dy = int(w * f / 2), int(h * f / 2)
    out["crop"] = im.crop((dx, dy, w - dx, h - dy))
    return out


def test_near_duplicate_recall_precision_on_real_photos(photos) -> None:
    """Made duplicates of six real photos vs the distinct photos, at the default radius."""
    _recall_precision([Image.fromarray(im) for im in photos.values()], min_crop_recall=0.0)


@pytest.mark.slow
def test_near_duplicate_recall_precision_all_shared_photos(shared_data) -> None:
    """The same on all 117 photos of ../shared/data (the measured curve across radii is in
    docs/dedup.md, made by scripts/phash_radius_curve.py)."""
    files = sorted((shared_data / "photos").glob("*/*.png"))
    _recall_precision([Image.open(f).convert("RGB") for f in files], min_crop_recall=0.65)


def _recall_precision(base: list[Image.Image], min_crop_recall: float) -> None:
    from curate.params import CurateParams

    rng = np.random.default_rng(0)
    radius = CurateParams().phash_radius
    codes = np.stack([phash(im) for im in base])
    hits: dict[str, list[bool]] = {}
    for k, im in enumerate(base):
        for how, dup in _made_duplicates(im, rng).items():
            d = hamming(phash(dup)[None], codes)
            # a hit: the source is within the radius and is the closest photo
            hits.setdefault(how, []).append(bool(d[k] <= radius and d.argmin() == k))
    distinct = hamming(codes[:, None], codes[None])[np.triu_indices(len(codes), 1)]
    false_pairs = int((distinct <= radius).sum())
    recall = {how: float(np.mean(v)) for how, v in hits.items()}
    print(f"\nnear-dup recall at radius {radius}: {recall}; distinct pairs within radius: "
          f"{false_pairs}/{len(distinct)} (min distance {int(distinct.min())})")  # fmt: skip
    for how in ("jpeg40", "jpeg70", "jpeg95", "resize0.5", "colour"):
        assert recall[how] == 1.0, (how, recall)
    assert recall["crop"] >= min_crop_recall
    assert false_pairs == 0  # precision 1.0 on distinct photos


def test_radius_curve_script(shared_data) -> None:
    """The script behind docs/dedup.md, on two real photos: every kind of made duplicate of
    a photo is measured, re-encodes and resizes are caught at the default radius."""
    import importlib.util

    from curate.params import CurateParams

    script = Path(__file__).resolve().parents[2] / "scripts" / "phash_radius_curve.py"
    spec = importlib.util.spec_from_file_location("phash_radius_curve", script)
    curve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(curve)
    photos = sorted((shared_data / "photos" / "kodak").glob("*.png"))[:2]
    codes, owner, kinds = curve.hash_corpus(photos)
    assert len(codes) == 2 * (1 + len(curve.KINDS)) and owner.tolist().count(0) == 10
    radius = CurateParams().phash_radius
    rows = {r["radius"]: r for r in curve.curve(codes, owner, kinds, [radius, radius + 1])}
    row = rows[radius]
    for kind in ("jpeg50", "jpeg75", "jpeg95", "resize50", "resize75"):
        assert row[kind] == 1.0, (kind, row)
    assert row["false_pairs"] == 0 and row["precision"] == 1.0
    # pHash sets 32 of 64 bits: distances are even, an odd radius adds nothing
    assert {k: v for k, v in rows[radius + 1].items() if k != "radius"} == {
        k: v for k, v in row.items() if k != "radius"
    }
