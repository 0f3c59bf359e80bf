"""Degrade a folder of images: read safely (torchvision.io), write PNGs + a params JSONL.

Resumable: each output is written to a temporary name and renamed, then its JSONL line is
appended; a rerun skips keys already recorded with their file present. Every input ends up
in the JSONL, degraded (``status: ok``) or not (``status: error`` with a reason code).
Each image gets its own generator, seeded from ``(seed, relative path, copy)``, so results do
not depend on the order or on which images were processed before.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image, encode_png

from degrade.degrader import Degrader

#: extensions read (what torchvision.io decodes)
EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")
#: decompression-bomb cap (pixels), as Pillow's default warning threshold x 2
MAX_PIXELS = 178_956_970
MAX_BYTES = 256 * 2**20


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG / JPEG / GIF / WebP header without decoding, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<HH", data[6:10])
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        kind = data[12:16]
        if kind == b"VP8X":
            w = int.from_bytes(data[24:27], "little") + 1
            h = int.from_bytes(data[27:30], "little") + 1
            return w, h
        if kind == b"VP8 ":
            w, h = struct.unpack("<HH", data[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L":
            b = int.from_bytes(data[21:25], "little")
            return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
                i += 1 if marker == 0xFF else 2
                continue
            seg = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", data[i + 5 : i + 9])
                return w, h
            i += 2 + seg
    return None


def read_image(path: Path) -> Tensor:
    """Read an image as a (1, C, H, W) uint8 tensor (C = 1 or 3; alpha dropped).

    Raises:
        FileNotFoundError: missing file.
        ValueError: too large (decompression bomb), unknown format or corrupt data.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path}: file larger than {MAX_BYTES} bytes")
    data = path.read_bytes()
    size = image_size(data)
    if size is None:
        raise ValueError(f"{path}: not a PNG/JPEG/GIF/WebP image")
    if size[0] * size[1] > MAX_PIXELS:
        raise ValueError(
            f"{path}: {size[0]}x{size[1]} exceeds {MAX_PIXELS} pixels (decompression bomb)"
        )
    try:
        img = decode_image(
            torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.UNCHANGED
        )
    except RuntimeError as e:
        raise ValueError(f"{path}: corrupt image ({str(e).splitlines()[0]})") from None
    if img.ndim == 4:  # animated GIF: first frame
        img = img[0]
    if img.dtype == torch.uint16:  # 16-bit PNG: keep the top 8 bits
        img = (img.to(torch.int32) >> 8).to(torch.uint8)
    if img.shape[0] == 2:
        img = img[:1]
    elif img.shape[0] == 4:
        img = img[:3]
    return img[None]


def list_images(root: Path) -> list[Path]:
    """Image files under ``root`` (recursive, sorted)."""
    return sorted(
        p for p in Path(root).rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
    )


def image_seed(seed: int, key: str, copy: int) -> int:
    """A per-image seed from the run seed, the image's relative path and the copy index."""
    h = hashlib.sha256(f"{seed}:{key}:{copy}".encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


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
) -> dict[str, Any]:
    """Degrade every image of ``in_dir`` into ``out_dir`` (PNG) + ``out_dir/params.jsonl``.

    Each JSONL line: ``{"id", "source", "copy", "status", "output", "seed", "preset", "ops"}``
    (or ``"reason"`` when ``status`` is ``error``).

    Returns:
        summary: inputs, outputs written, skipped (already done), errors.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    if not in_dir.is_dir():
        raise FileNotFoundError(f"{in_dir}: input folder not found")
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
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
            name = Path(key).with_suffix("").as_posix() + (f"_{c}" if copies > 1 else "") + ".png"
            prev = done.get(rid)
            if prev and (prev["status"] == "error" or (out_dir / name).exists()):
                stats["skipped"] += 1
                continue
            s = image_seed(seed, key, c)
            rec: dict[str, Any] = {"id": rid, "source": key, "copy": c, "seed": s, "preset": preset}
            try:
                x = read_image(path).to(device)
                y, params = degrader(x, generator=torch.Generator(device=device).manual_seed(s))
            except (ValueError, FileNotFoundError) as e:
                rec.update(status="error", reason=str(e))
                stats["errors"] += 1
            else:
                dst = out_dir / name
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp = dst.with_suffix(".png.tmp")
                tmp.write_bytes(encode_png(y[0].cpu()).numpy().tobytes())
                tmp.replace(dst)
                rec.update(status="ok", output=name, ops=params[0]["ops"])
                stats["written"] += 1
            log.write(json.dumps(rec) + "\n")
            log.flush()
    return stats
