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
