"""Precision / recall of near-duplicate dedup against the pHash Hamming radius.

Every real photo under ``../shared/data/photos`` gets made duplicates: JPEG re-encodes
(quality 50, 75, 95), crops that cut 2, 4, 6 or 8 % of the width and of the height at a
seeded position, and resizes to 50 % and 75 %. Every item (originals + duplicates) is
hashed exactly as ``qpt curate`` hashes it (:func:`curate.measure.phash_bytes`). At each
radius a pair within the radius is a true match when both items come from one photo:

* recall: made duplicates within the radius of their original, per kind and overall;
* precision: true pairs / all pairs within the radius (all items against all);
* distinct: pairs of *different originals* within the radius, and the expected number of
  such false pairs in a corpus of one million images (that rate times 5e11 pairs).

Usage::

    PYTHONPATH=. python scripts/phash_radius_curve.py [--photos DIR] [--radii 4-20]

Prints a Markdown table (docs/dedup.md holds the last one, with its date and commit).
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from curate.measure import phash_bytes

KINDS = ["jpeg50", "jpeg75", "jpeg95", "crop2", "crop4", "crop6", "crop8", "resize50", "resize75"]


def made_duplicates(im: Image.Image, rng: np.random.Generator) -> dict[str, bytes]:
    """Encoded duplicates of ``im`` by kind (lossless PNG except the JPEG re-encodes)."""
    out = {f"jpeg{q}": _encode(im, "JPEG", quality=q) for q in (50, 75, 95)}
    w, h = im.size
    for pct in (2, 4, 6, 8):
        cw, ch = round(w * pct / 100), round(h * pct / 100)
        x, y = int(rng.integers(0, cw + 1)), int(rng.integers(0, ch + 1))
        out[f"crop{pct}"] = _encode(im.crop((x, y, x + w - cw, y + h - ch)), "PNG")
    for pct in (50, 75):
        size = (round(w * pct / 100), round(h * pct / 100))
        out[f"resize{pct}"] = _encode(im.resize(size, Image.Resampling.LANCZOS), "PNG")
    return out


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def hash_corpus(photos: list[Path], seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Codes ``(N, 8)``, photo id per item ``(N,)`` and kind per item (``orig`` or a kind)."""
    rng = np.random.default_rng(seed)
    codes, owner, kinds = [], [], []
    for i, path in enumerate(photos):
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            items = {"orig": data, **made_duplicates(im.convert("RGB"), rng)}
        for kind, blob in items.items():
            codes.append(phash_bytes(blob))
            owner.append(i)
            kinds.append(kind)
    return np.stack(codes), np.asarray(owner), kinds


def distances(codes: np.ndarray) -> np.ndarray:
    """``(N, N)`` Hamming distances of packed 64-bit codes."""
    x = codes.view(">u8").ravel()
    return np.bitwise_count(x[:, None] ^ x[None, :]).astype(np.int16)


def curve(codes: np.ndarray, owner: np.ndarray, kinds: list[str], radii: list[int]) -> list[dict]:
    """One row per radius: precision, recall (overall and per kind), false pairs."""
    d = distances(codes)
    iu = np.triu_indices(len(codes), 1)
    pair_d, same = d[iu], owner[iu[0]] == owner[iu[1]]
    kinds_arr = np.asarray(kinds)
    originals = np.flatnonzero(kinds_arr == "orig")
    orig_of = originals[np.searchsorted(owner[originals], owner)]  # index of each item's original
    dup = np.flatnonzero(kinds_arr != "orig")
    dup_d = d[dup, orig_of[dup]]
    distinct = d[np.ix_(originals, originals)][np.triu_indices(len(originals), 1)]
    rows = []
    for r in radii:
        hit = pair_d <= r
        true, found = int((hit & same).sum()), int(hit.sum())
        row = {
            "radius": r,
            "precision": true / found if found else 1.0,
            "recall": float((dup_d <= r).mean()),
            "false_pairs": found - true,
            "distinct_within": int((distinct <= r).sum()),
            "per_1m": float((distinct <= r).mean()) * 5e11,
        }
        for kind in KINDS:
            row[kind] = float((dup_d[kinds_arr[dup] == kind] <= r).mean())
        rows.append(row)
    return rows


def markdown(rows: list[dict], n_photos: int, n_distinct: int) -> str:
    head = ["radius", "precision", "recall", "false pairs", *KINDS, "distinct <= r", "per 1M"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for row in rows:
        cells = [str(row["radius"]), f"{row['precision']:.3f}", f"{row['recall']:.3f}",
                 str(row["false_pairs"]), *(f"{row[k]:.2f}" for k in KINDS),
                 f"{row['distinct_within']}/{n_distinct}", f"{row['per_1m']:.2g}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    note = f"{n_photos} photos, {n_photos * len(KINDS)} made duplicates"
    return "\n".join(lines) + f"\n\n({note}; per 1M: distinct rate x 5e11 pairs)\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1].parent / "shared/data/photos"
    parser.add_argument("--photos", type=Path, default=default)
    parser.add_argument("--radii", default="4-20", help="first-last (inclusive)")
    parser.add_argument(
        "--speed", type=int, default=0, metavar="N",
        help="also time curate's dedup (curate.dedup.hamming_pairs) on N random codes at 8, 10, 12",
    )  # fmt: skip
    args = parser.parse_args(argv)
    photos = sorted(args.photos.rglob("*.png")) + sorted(args.photos.rglob("*.jpg"))
    if not photos:
        print(f"error: {args.photos}: no photos (*.png, *.jpg)", file=sys.stderr)
        return 2
    first, last = (int(v) for v in args.radii.split("-"))
    codes, owner, kinds = hash_corpus(photos)
    rows = curve(codes, owner, kinds, list(range(first, last + 1)))
    n = len(photos)
    print(markdown(rows, n, n * (n - 1) // 2))
    if args.speed:
        print(speed(args.speed, [8, 10, 12]))
    return 0


def speed(n: int, radii: list[int]) -> str:
    """Seconds of :func:`curate.dedup.hamming_pairs` on ``n`` uniform random codes."""
    import time

    from curate.dedup import hamming_pairs

    codes = np.random.default_rng(0).integers(0, 256, (n, 8), dtype=np.uint8)
    lines = ["| radius | seconds | pairs found |", "|---:|---:|---:|"]
    for r in radii:
        start = time.perf_counter()
        found = len(hamming_pairs(codes, r)[0])
        lines.append(f"| {r} | {time.perf_counter() - start:.1f} | {found} |")
    return "\n".join(lines) + f"\n\n({n} random 64-bit codes)\n"


if __name__ == "__main__":
    sys.exit(main())
