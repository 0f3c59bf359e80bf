"""The one safe image decoder: untrusted bytes or files -> RGB pixels, with one pixel cap.

Every package decodes through here, so the decompression-bomb cap, the EXIF orientation and
the conversion of odd modes (CMYK, 16-bit, palette, alpha) are the same everywhere.
``Image.open`` reads only the header; the cap is checked before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageOps

#: Declared pixels above which an image is refused unread (PIL's own warning threshold).
MAX_PIXELS = 89_478_485

Source = bytes | str | os.PathLike[str]

# Modes that resize exactly like their RGB conversion (palette, 16-bit and alpha images are
# converted first: resizing them would pick palette entries or mix in transparent pixels).
_SHRINK_FIRST = frozenset({"RGB", "L", "CMYK", "YCbCr"})


class UnreadableImage(ValueError):
    """Bytes or a file that cannot be decoded as an image (message: the reason)."""


class ImageTooLarge(UnreadableImage):
    """An image declaring more pixels than the cap (a decompression bomb, or just huge)."""


@contextmanager
def open_image(source: Source, max_pixels: int = MAX_PIXELS) -> Iterator[Image.Image]:
    """Open an image lazily (header read, pixels not yet decoded), size-checked.

    Args:
        source: encoded bytes or a file path.
        max_pixels: refuse images declaring more pixels than this.

    Raises:
        ImageTooLarge: more than ``max_pixels`` declared pixels.
        UnreadableImage: missing, truncated or not an image PIL can identify.
    """
    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the cap is ours
            with Image.open(fp) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise ImageTooLarge(
                        f"{w}x{h} exceeds the {max_pixels}-pixel cap (decompression bomb)"
                    )
                yield im
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"decompression bomb: {exc}") from None
    except (OSError, SyntaxError, EOFError) as exc:
        raise UnreadableImage(reason(exc)) from None


def reason(exc: BaseException) -> str:
    """``Type: message`` without object reprs (``<_io.BytesIO object at 0x...>``), so the same
    bad file gives the same text in every run."""
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc))
    return f"{type(exc).__name__}: {text}"


def image_size(source: Source, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` as stored, from the header alone."""
    with open_image(source, max_pixels) as im:
        return im.size


def decode_rgb(
    source: Source, max_pixels: int = MAX_PIXELS, max_side: int | None = None
) -> np.ndarray:
    """Decode to ``(H, W, 3)`` uint8 RGB, EXIF orientation applied.

    CMYK, 16-bit, palette and alpha images are converted (alpha composited on white); an
    animated file gives its first frame. With ``max_side`` the result is shrunk so that its
    long side is at most that (JPEGs are decoded at reduced DCT scale, several times faster).

    Raises:
        ImageTooLarge: more than ``max_pixels`` declared pixels.
        UnreadableImage: missing, truncated or undecodable.
    """
    with open_image(source, max_pixels) as im:
        try:
            if max_side is not None and im.format == "JPEG":
                im.draft("RGB", (max_side, max_side))
            im.load()
            if max_side is not None and im.mode in _SHRINK_FIRST:
                # Shrink before orienting and converting, so no full-size copy is made.
                im.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            ImageOps.exif_transpose(im, in_place=True)
            rgb = to_rgb(im)
        except (OSError, SyntaxError, EOFError, ValueError) as exc:
            raise UnreadableImage(reason(exc)) from None
    if max_side is not None:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.array(rgb)  # writable, as torch.from_numpy expects


def decode_tensor(data: bytes, max_pixels: int = MAX_PIXELS, keep_grey: bool = False):
    """Decode to a ``(C, H, W)`` uint8 torch tensor, EXIF orientation applied.

    The same header check and cap as :func:`decode_rgb`. JPEGs (the loaders' hot path) are
    decoded by torchvision straight into the tensor; every other format by PIL, because
    torchvision's libpng path crashes the process on a PNG whose data is shorter than its
    header says. ``C`` is 3, or 1 for a grey image when ``keep_grey``; alpha is dropped,
    16-bit samples keep their top 8 bits and an animation gives its first frame.

    Raises:
        ImageTooLarge: more than ``max_pixels`` declared pixels.
        UnreadableImage: not an image, or corrupt data.
    """
    import torch

    with open_image(data, max_pixels) as im:
        if im.format != "JPEG":
            return torch.from_numpy(_pil_planes(im, keep_grey)).permute(2, 0, 1).contiguous()
    from torchvision.io import ImageReadMode
    from torchvision.io import decode_image as tv_decode

    mode = ImageReadMode.UNCHANGED if keep_grey else ImageReadMode.RGB
    try:
        img = tv_decode(
            torch.frombuffer(bytearray(data), dtype=torch.uint8),
            mode=mode,
            apply_exif_orientation=True,
        )
    except RuntimeError as exc:
        raise UnreadableImage(f"corrupt image ({str(exc).splitlines()[0]})") from None
    return img[:1] if img.shape[0] == 2 else img[:3]


def _pil_planes(im: Image.Image, keep_grey: bool) -> np.ndarray:
    """An opened image's pixels as ``(H, W, C)`` uint8, C = 3 (or 1: grey and ``keep_grey``)."""
    try:
        im.load()
        im = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        raise UnreadableImage(reason(exc)) from None
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        grey = np.clip(np.asarray(im, dtype=np.int64) >> 8, 0, 255).astype(np.uint8)
    elif im.mode in ("L", "LA", "1"):
        grey = np.asarray(im.convert("L"))
    else:
        return np.array(im.convert("RGB"))  # RGBA and P+transparency: alpha dropped
    grey = grey[..., None]
    return grey.copy() if keep_grey else np.repeat(grey, 3, axis=2)


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB (16/32-bit grey rescaled, alpha composited on white)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # PIL's convert("RGB") clips 16/32-bit grey to 255; rescale to 8 bits instead.
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        rgba = im.convert("RGBA")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")
