"""Speed of curation, each figure against a reference measured in the same run.

Prints one table: header scan vs full PIL decode (files/s), pHash (images/s), dedup time for
10k / 100k / 1M random 64-bit hashes (1M only when ``quick=False``) and 100k embeddings, and
shard writing vs a plain file copy of the same bytes (MB/s). Targets: header scan >= 5,000
files/s on 2 cores, 1M-hash dedup < 60 s, shard writing >= 50 % of plain copy.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _corpus(root: Path, n: int) -> list[Path]:
    from PIL import Image

    from curate.sources.builtin import base_photos

    photos = list(base_photos().values())
    files = []
    for i in range(n):
        im = photos[i % len(photos)]
        path = root / f"img{i:05d}.jpg"
        Image.fromarray(im).save(path, quality=90)
        files.append(path)
    return files


def run(quick: bool = True) -> dict:
    """Measure and print; returns the figures (``*_per_s`` rates, ``*_s`` seconds, ratios)."""
    from PIL import Image
    from rich.console import Console
    from rich.table import Table

    from curate import dedup
    from curate.header import scan_header
    from curate.measure import DECODE_SIDE
    from curate.params import CurateParams, ShardParams
    from curate.phash import phash
    from qpt_base.images import decode_rgb

    n_files = 200 if quick else 1000
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        files = _corpus(root / "src", n_files)
        blobs = [p.read_bytes() for p in files]
        t_header = _timed(lambda: [scan_header(b) for b in blobs])
        t_decode = _timed(lambda: [Image.open(p).convert("RGB") for p in files])
        t_header_files = _timed(lambda: [scan_header(p.read_bytes()) for p in files])
        out["header_files_per_s"] = n_files / t_header_files
        out["header_bytes_per_s"] = n_files / t_header
        out["pil_decode_per_s"] = n_files / t_decode
        rgb = [decode_rgb(b, 10**9, max_side=DECODE_SIDE) for b in blobs[:100]]
        t_phash = _timed(lambda: [phash(Image.fromarray(a)) for a in rgb])
        out["phash_per_s"] = len(rgb) / t_phash

        rng = np.random.default_rng(0)
        radius = CurateParams().phash_radius
        sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
        for n in sizes:
            codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
            out[f"dedup_{n}_hashes_r{radius}_s"] = _timed(
                lambda c=codes: dedup.hamming_pairs(c, radius)
            )
        n_emb = 20_000 if quick else 100_000
        vec = rng.normal(size=(n_emb, 512)).astype(np.float32)
        vec /= np.linalg.norm(vec, axis=1, keepdims=True)
        out[f"dedup_{n_emb}_embeddings_s"] = _timed(lambda: dedup.embedding_pairs(vec, 0.95))

        from curate.pipeline import curate
        from curate.shard import write_shards

        params = CurateParams(source="folder", path=root / "src", min_short_side=0,
                              richness=False, report=False, phash_radius=None,
                              dedup_exact=False)  # fmt: skip
        curate(params, root / "cur", console=Console(quiet=True))
        total = sum(len(b) for b in blobs)
        t_shard = _timed(lambda: write_shards(root / "cur/manifest.parquet", root / "sh",
                                              ShardParams(maxcount=100),
                                              console=Console(quiet=True)))  # fmt: skip
        (root / "copy").mkdir()
        t_copy = _timed(lambda: [shutil.copyfile(p, root / "copy" / p.name) for p in files])
        out["shard_mb_per_s"] = total / 1e6 / t_shard
        out["copy_mb_per_s"] = total / 1e6 / t_copy
        out["shard_vs_copy"] = t_copy / t_shard

    table = Table(title=f"curate speed ({'quick' if quick else 'full'})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in out.items():
        table.add_row(name, f"{value:,.2f}")
    Console(stderr=True).print(table)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--full" not in sys.argv)
