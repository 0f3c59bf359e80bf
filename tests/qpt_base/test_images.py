"""qpt_base.images: one decoder with one pixel cap; bad bytes are UnreadableImage."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from qpt_base import (
    MAX_PIXELS,
    UnreadableImage,
    decode_rgb,
    image_size,
)
from qpt_base.images import ImageTooLarge


def _png(w: int, h: int, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (w, h), 128 if mode != "RGB" else (10, 20, 30)).save(buf, "PNG")
    return buf.getvalue()


def test_decode_rgb_from_bytes_and_path(tmp_path):
    data = _png(5, 3)
    (tmp_path / "a.png").write_bytes(data)
    a, b = decode_rgb(data), decode_rgb(tmp_path / "a.png")
    assert a.shape == (3, 5, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and tuple(a[0, 0]) == (10, 20, 30)


def test_sixteen_bit_grey_is_rescaled_not_clipped():
    buf = io.BytesIO()
    Image.fromarray(np.full((2, 2), 65535, np.uint16)).save(buf, "PNG")
    assert decode_rgb(buf.getvalue()).max() == 255
    buf = io.BytesIO()
    Image.fromarray(np.full((2, 2), 32768, np.uint16)).save(buf, "PNG")
    assert decode_rgb(buf.getvalue()).max() == 127


def test_alpha_is_composited_on_white():
    buf = io.BytesIO()
    Image.new("RGBA", (2, 2), (0, 0, 0, 0)).save(buf, "PNG")
    assert decode_rgb(buf.getvalue()).min() == 255


def test_max_side_shrinks():
    assert max(decode_rgb(_png(64, 32), max_side=16).shape[:2]) == 16


def test_cap_is_checked_from_the_header_and_says_so():
    data = _png(100, 100)
    assert image_size(data) == (100, 100)
    with pytest.raises(ImageTooLarge, match="9999-pixel cap"):
        decode_rgb(data, max_pixels=100 * 100 - 1)
    assert decode_rgb(data, max_pixels=100 * 100).shape == (100, 100, 3)
    assert MAX_PIXELS == Image.MAX_IMAGE_PIXELS  # PIL's own warning threshold


def test_pil_bomb_error_is_too_large_not_unreadable():
    big = 2 * Image.MAX_IMAGE_PIXELS + 1
    side = int(big**0.5) + 1
    data = _png(side, side, "L")
    with pytest.raises(ImageTooLarge):
        decode_rgb(data, max_pixels=10**12)


@pytest.mark.parametrize("data", [b"", b"not an image", _png(8, 8)[:40]])
def test_garbage_is_unreadable(data):
    with pytest.raises(UnreadableImage):
        decode_rgb(data)


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableImage):
        decode_rgb(tmp_path / "nope.png")


def test_decode_tensor_survives_a_png_shorter_than_its_header(tmp_path):
    """torchvision's libpng path crashes the process on this file; ours must raise."""
    import subprocess
    import sys
    import zlib

    small = io.BytesIO()
    Image.new("RGB", (1, 1)).save(small, "PNG")
    data = bytearray(small.getvalue())
    data[16:24] = (2).to_bytes(4, "big") * 2  # declare 2x2 over 1x1 pixel data
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    (tmp_path / "short.png").write_bytes(bytes(data))
    code = (
        "import sys, pathlib; from qpt_base.images import decode_tensor, UnreadableImage\n"
        "try:\n    decode_tensor(pathlib.Path(sys.argv[1]).read_bytes())\n"
        "except UnreadableImage as e:\n    print('refused:', e)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "short.png")], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("refused:")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_decode_tensor_equals_decode_rgb(fmt):
    from qpt_base.images import decode_tensor

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)).save(buf, fmt)
    t = decode_tensor(buf.getvalue())
    assert t.shape == (3, 24, 40) and t.dtype.is_floating_point is False
    assert np.array_equal(t.permute(1, 2, 0).numpy(), decode_rgb(buf.getvalue()))
    grey = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(grey, "PNG")
    assert decode_tensor(grey.getvalue(), keep_grey=True).shape == (1, 8, 8)
    assert decode_tensor(grey.getvalue()).shape == (3, 8, 8)
