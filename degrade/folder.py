"""Degrade a folder of images: read safely (``qpt_base.images``), write PNGs + a params JSONL.

Each output is named for its input's whole relative path, extension included, plus
``.png`` (``a/x.jpg`` -> ``a/x.jpg.png``; with copies ``a/x.jpg.1.png``), so two inputs
never share an output (``x.jpg`` and ``x.png`` give ``x.jpg.png`` and ``x.png.png``).

Resumable: each output is written to a temporary name and renamed, then its JSONL line is
appended; a rerun skips keys already recorded with their file present. Every input ends up
in the JSONL, degraded (``status: ok``) or not (``status: error`` with a reason code).
Each image gets its own generator, seeded from ``(seed, relative path, copy)``, so results do
not depend on the order or on which images were processed before.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchvision.io import encode_png

from degrade.degrader import Degrader
from degrade.params import DEGRADE_MAX_PIXELS
from qpt_base.atomic import atomic_write_bytes
from qpt_base.images import MAX_PIXELS, UnreadableImage, decode_tensor, image_size, open_image

#: extensions read (what torchvision.io decodes)
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
MAX_BYTES = 256 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_image(path: Path, max_pixels: int = MAX_PIXELS) -> Tensor:
    """Read an image as a (1, C, H, W) uint8 tensor (C = 1 or 3; alpha dropped).

    Args:
        max_pixels: refuse images declaring more pixels, from the header alone (nothing is
            decoded), with a message naming the size and the limit.

    Raises:
        FileNotFoundError: missing file.
        ValueError: too large (decompression bomb or above ``max_pixels``), unknown format or
            corrupt data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: file larger than {MAX_BYTES} bytes")
    data = path.read_bytes()
    try:
        w, h = image_size(data, max_pixels=sys.maxsize)  # the header only
        if w * h > max_pixels:
            bomb = " (decompression bomb)" if w * h > MAX_PIXELS else ""
            raise ValueError(
                f"{path}: image of {w}x{h} = {w * h} pixels is above the limit of {max_pixels} "
                f"pixels per image (--max-pixels), which bounds memory{bomb}"
            )
        if data.startswith(PNG_SIGNATURE):
            # torchvision's libpng decoder kills the process (SIGSEGV) on truncated image
            # data, where PIL raises: a PNG is fully decoded by PIL first
            with open_image(data) as im:
                im.load()
        return decode_tensor(data, max_pixels=max(max_pixels, MAX_PIXELS), keep_grey=True)[None]
    except UnreadableImage as e:
        raise ValueError(f"{path}: {e}") from None


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, sorted)."""
    return sorted(
        p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
    )


def image_seed(seed: int, key: str, copy: int) -> int:
    """A per-image seed from the run seed, the image's relative path and the copy index."""
    h = hashlib.sha256(f"{seed}:{key}:{copy}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


def output_name(key: str, copy: int, copies: int) -> str:
    """The output's relative path for input ``key`` (relative path) and copy index: the key
    with ``.png`` appended (``.{copy}.png`` when ``copies > 1``), one-to-one by construction."""
    return key + (f".{copy}" if copies > 1 else "") + ".png"


def _done(jsonl: Path) -> dict[str, dict[str, Any]]:
    """Records already written; a last line cut by a crash is removed (that item is redone)."""
    done: dict[str, dict[str, Any]] = {}
    if not jsonl.exists():
        return done
    text = jsonl.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        jsonl.write_text(text)
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        done[rec["id"]] = rec
    return done


def degrade_folder(
    in_dir: Path,
    out_dir: Path,
    preset: str = "qpt-v2",
    seed: int = 0,
    copies: int = 1,
    device: str = "cpu",
    progress: Callable[[Iterator[Any], int], Iterator[Any]] | None = None,
    max_pixels: int = DEGRADE_MAX_PIXELS,
) -> dict[str, Any]:
    """Degrade every image of ``in_dir`` into ``out_dir`` (PNG) + ``out_dir/params.jsonl``.

    Each JSONL line: ``{"id", "source", "copy", "status", "output", "seed", "preset", "ops"}``
    (or ``"reason"`` when ``status`` is ``error``). Images of more than ``max_pixels``
    pixels are refused from their header (an error record each): this bounds memory.

    Returns:
        summary: inputs, outputs written, skipped (already done), errors.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    _check_arguments(in_dir, copies, max_pixels)
    degrader = Degrader(preset)
    files = list_images(in_dir)
    if not files:
        raise ValueError(f"{in_dir}: no images ({', '.join(EXTENSIONS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = out_dir / "params.jsonl"
    done = _done(jsonl)
    stats = {"inputs": len(files), "written": 0, "skipped": 0, "errors": 0}
    jobs = [(f, c) for f in files for c in range(copies)]
    it = progress(iter(jobs), len(jobs)) if progress else iter(jobs)
    with jsonl.open("a") as log:
        for path, c in it:
            key = path.relative_to(in_dir).as_posix()
            rid = f"{key}#{c}"
            prev = done.get(rid)
            # an earlier run's output name is kept (it may predate the current naming)
            if prev and (prev["status"] == "error" or (out_dir / prev["output"]).exists()):
                stats["skipped"] += 1
                continue
            s = image_seed(seed, key, c)
            rec: dict[str, Any] = {"id": rid, "source": key, "copy": c, "seed": s, "preset": preset}
            name = output_name(key, c, copies)
            rec.update(_degrade_one(degrader, path, out_dir / name, name, s, device, max_pixels))
            stats["written" if rec["status"] == "ok" else "errors"] += 1
            log.write(json.dumps(rec) + "\n")
            log.flush()
    return stats


def _check_arguments(in_dir: Path, copies: int, max_pixels: int) -> None:
    if not in_dir.is_dir():
        raise FileNotFoundError(f"{in_dir}: input folder not found")
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")


def _degrade_one(
    degrader: Degrader,
    path: Path,
    dst: Path,
    name: str,
    seed: int,
    device: str,
    max_pixels: int,
) -> dict[str, Any]:
    """Degrade ``path`` into the PNG ``dst`` (written atomically); the record's outcome:
    ``{"status": "ok", "output": name, "ops"}`` or ``{"status": "error", "reason"}``."""
    try:
        x = read_image(path, max_pixels).to(device)
        y, params = degrader(x, generator=torch.Generator(device=device).manual_seed(seed))
    except (ValueError, FileNotFoundError) as e:
        return {"status": "error", "reason": str(e)}
    dst.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dst, encode_png(y[0].cpu()).numpy().tobytes())
    return {"status": "ok", "output": name, "ops": params[0]["ops"]}
