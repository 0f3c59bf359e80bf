"""Speed of curation, each figure against a reference measured in the same run.

Prints one table: header scan vs full PIL decode (files/s), pHash (images/s), dedup time for
10k / 100k / 1M random 64-bit hashes (1M only when ``quick=False``) and 100k embeddings, shard
writing vs a plain file copy of the same bytes (MB/s), and curate end to end (folder source,
one process, default filters) vs a full PIL decode of the same files. The end-to-end corpus
is ``../shared/data/photos`` (or ``$QPT_SHARED_DATA/photos``) when present, else the built-in
one. Targets: header scan >= 5,000 files/s on 2 cores, 1M-hash dedup < 60 s, shard writing
>= 50 % of plain copy, curate end to end >= 50 % of the full-decode rate.
"""

from __future__ import annotations

import os
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


def real_photos() -> list[Path]:
    """The real photos beside the checkout (empty when absent)."""
    repo = Path(__file__).resolve().parents[2]
    data = Path(os.environ.get("QPT_SHARED_DATA", repo.parent / "shared" / "data"))
    return sorted(p for p in (data / "photos").rglob("*") if p.is_file())


def end_to_end(files: list[Path], work: Path, quick: bool = True, rounds: int = 2) -> dict:
    """Curate ``files`` (a copy of them, folder source, ``workers=0``, default filters, no
    report pictures) against a full PIL decode of the same files; best of ``rounds``
    interleaved rounds. With ``quick=False`` also the reference richness estimator and the
    run with its report pictures."""
    from PIL import Image
    from rich.console import Console

    from curate.params import CurateParams
    from curate.pipeline import curate

    src = work / "e2e_src"
    src.mkdir()
    for i, path in enumerate(files):
        shutil.copyfile(path, src / f"{i:05d}_{path.name}")
    runs = {"curate": {"report": False}}
    if not quick:
        runs["curate_with_report"] = {}
        runs["curate_felzenszwalb"] = {"report": False, "richness_method": "felzenszwalb"}
    best = dict.fromkeys(["full_decode", *runs], float("inf"))
    quiet = Console(quiet=True)
    for r in range(rounds):
        best["full_decode"] = min(
            best["full_decode"], _timed(lambda: [Image.open(p).convert("RGB") for p in files])
        )
        for name, kw in runs.items():
            params = CurateParams(source="folder", path=src, workers=0, **kw)
            t = _timed(lambda p=params, o=work / f"e2e_{name}_{r}": curate(p, o, console=quiet))
            best[name] = min(best[name], t)
    out = {"e2e_files": float(len(files))}
    out.update({f"e2e_{name}_per_s": len(files) / t for name, t in best.items()})
    out["e2e_curate_vs_full_decode"] = best["full_decode"] / best["curate"]
    return out


def run(quick: bool = True) -> dict:
    """Measure and print; returns the figures (``*_per_s`` rates, ``*_s`` seconds, ratios)."""
    from rich.console import Console
    from rich.table import Table

    n_files = 200 if quick else 1000
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "src").mkdir()
        files = _corpus(root / "src", n_files)
        out.update(_read_rates(files))
        out.update(_dedup_times(quick))
        out.update(_shard_rates(root, files))
        out.update(end_to_end(real_photos() or files, root, quick))

    table = Table(title=f"curate speed ({'quick' if quick else 'full'})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in out.items():
        table.add_row(name, f"{value:,.2f}")
    Console(stderr=True).print(table)
    return out


def _read_rates(files: list[Path]) -> dict[str, float]:
    """Header scan (from bytes and from files) and full PIL decode in files/s; pHash in
    images/s on the first 100 files decoded at the curation side."""
    from PIL import Image

    from curate.header import scan_header
    from curate.measure import DECODE_SIDE
    from curate.phash import phash
    from qpt_base.images import decode_rgb

    n_files = len(files)
    blobs = [p.read_bytes() for p in files]
    t_header = _timed(lambda: [scan_header(b) for b in blobs])
    t_decode = _timed(lambda: [Image.open(p).convert("RGB") for p in files])
    t_header_files = _timed(lambda: [scan_header(p.read_bytes()) for p in files])
    out = {
        "header_files_per_s": n_files / t_header_files,
        "header_bytes_per_s": n_files / t_header,
        "pil_decode_per_s": n_files / t_decode,
    }
    rgb = [decode_rgb(b, 10**9, max_side=DECODE_SIDE) for b in blobs[:100]]
    t_phash = _timed(lambda: [phash(Image.fromarray(a)) for a in rgb])
    out["phash_per_s"] = len(rgb) / t_phash
    return out


def _dedup_times(quick: bool) -> dict[str, float]:
    """Seconds to find the near-duplicate pairs among random 64-bit hashes (at the default
    radius) and among random unit embeddings (cosine 0.95)."""
    from curate import dedup
    from curate.params import CurateParams

    out: dict[str, float] = {}
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
    return out


def _shard_rates(root: Path, files: list[Path]) -> dict[str, float]:
    """Shard writing of ``root/src`` (curated with every filter off) against a plain copy of
    the same files, in MB/s."""
    from rich.console import Console

    from curate.params import CurateParams, ShardParams
    from curate.pipeline import curate
    from curate.shard import write_shards

    params = CurateParams(source="folder", path=root / "src", min_short_side=0,
                          richness=False, report=False, phash_radius=None,
                          dedup_exact=False)  # fmt: skip
    curate(params, root / "cur", console=Console(quiet=True))
    total = sum(p.stat().st_size for p in files)
    t_shard = _timed(lambda: write_shards(root / "cur/manifest.parquet", root / "sh",
                                          ShardParams(maxcount=100),
                                          console=Console(quiet=True)))  # fmt: skip
    (root / "copy").mkdir()
    t_copy = _timed(lambda: [shutil.copyfile(p, root / "copy" / p.name) for p in files])
    return {
        "shard_mb_per_s": total / 1e6 / t_shard,
        "copy_mb_per_s": total / 1e6 / t_copy,
        "shard_vs_copy": t_copy / t_shard,
    }


if __name__ == "__main__":
    import sys

    run(quick="--full" not in sys.argv)
