"""Every kind of bad file becomes a rejection with its reason code, never a crash or a drop."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.params import CurateParams
from curate.pipeline import curate
from tests.curate.conftest import encode


def _exif_rotated_jpeg(image: np.ndarray) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed width/height are swapped
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


def _animated_gif(image: np.ndarray) -> bytes:
    frames = [Image.fromarray(image), Image.fromarray(255 - image)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    return buf.getvalue()


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("messy")
    im = next(iter(photos.values()))[:300, :400]  # 400 x 300
    pil = Image.fromarray(im)
    deep = Image.fromarray(np.asarray(pil.convert("L")).astype(np.uint16) * 257)
    files = {
        "ok.jpg": encode(im, quality=90),
        "zero.jpg": b"",
        "truncated.jpg": encode(im, quality=90)[:3000],
        "text.png": b"hello, not an image\n" * 10,
        "cmyk.jpg": _save(pil.convert("CMYK"), "JPEG"),
        "deep16.png": _save(deep, "PNG"),
        "palette_alpha.png": _save(pil.convert("RGBA").convert("P"), "PNG"),
        "rgba.png": _save(pil.convert("RGBA"), "PNG"),
        "exif6.jpg": _exif_rotated_jpeg(im[:, :350]),
        "anim.gif": _animated_gif(im),
        "bomb.png": _save(Image.new("1", (12_000, 9_000)), "PNG"),
        "sub/strip.png": _save(pil.crop((0, 0, 400, 100)).resize((1200, 300)), "PNG"),
    }  # fmt: skip
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "dangling.jpg").symlink_to(root / "gone.jpg")  # listed, but cannot be read
    return root


def _save(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def test_every_bad_file_has_its_reason(messy_folder: Path, tmp_path: Path) -> None:
    params = CurateParams(
        source="folder", path=messy_folder, min_short_side=200, max_pixels=50_000_000,
        richness=False, report=False, unit_size=5,
    )  # fmt: skip
    summary = curate(params, tmp_path / "out")
    rows = {
        Path(r["uri"]).name: r for r in pq.read_table(tmp_path / "out/manifest.parquet").to_pylist()
    }
    assert summary["candidates"] == len(rows) == 13  # every file, nothing dropped
    assert summary["candidates"] == summary["kept"] + summary["rejected"]
    expected = {
        "zero.jpg": "empty",
        "truncated.jpg": "corrupt",
        "text.png": "not_image",
        "anim.gif": "animated",
        "bomb.png": "decompression_bomb",
        "strip.png": "bad_aspect",
    }
    for name, reason in expected.items():
        assert rows[name]["reason"] == reason, (name, rows[name])
    # Odd but valid images are measured, not rejected for their encoding.
    odd = ["cmyk.jpg", "deep16.png", "palette_alpha.png", "rgba.png", "exif6.jpg", "ok.jpg"]
    for name in odd:
        assert rows[name]["phash"] is not None, rows[name]
    assert (rows["exif6.jpg"]["width"], rows["exif6.jpg"]["height"]) == (300, 350)
    assert rows["exif6.jpg"]["orientation"] == 6 and rows["ok.jpg"]["orientation"] == 1
    assert rows["deep16.png"]["mode"].startswith("I;16")
    # The CMYK / 16-bit / palette / RGBA copies of ok.jpg are near duplicates of one kept
    # member (the rotated crop exif6.jpg is another picture).
    copies = [n for n in odd if n != "exif6.jpg"]
    assert sorted(rows[n]["reason"] for n in copies).count("duplicate_near") == len(copies) - 1
    assert rows["exif6.jpg"]["status"] == "kept"
    assert rows["dangling.jpg"]["reason"] == "unreadable"


def test_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    params = CurateParams(source="folder", path=tmp_path / "nope", report=False)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        curate(params, tmp_path / "out")
