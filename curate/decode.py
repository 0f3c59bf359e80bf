"""Safe decode of untrusted image bytes to a small RGB array for measurement.

Only measurements (pHash, richness, CLIP) use the decoded pixels; shards keep the original
bytes. JPEGs are decoded at reduced scale through libjpeg's DCT scaling (PIL ``draft``), which
is several times faster and is all a 32x32 hash or a 256-pixel segmentation needs.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps


def decode_rgb(data: bytes, max_side: int, max_pixels: int) -> np.ndarray:
    """Decode, apply EXIF orientation, convert to 8-bit RGB and shrink to ``max_side``.

    CMYK, 16-bit, palette and alpha images are converted (alpha composited on white); an
    animated file gives its first frame.

    Args:
        data: the encoded file.
        max_side: the long side of the result is at most this.
        max_pixels: refuse to decode images declaring more pixels (decompression bombs).

    Returns:
        ``(H, W, 3)`` uint8 array with ``max(H, W) <= max_side``.

    Raises:
        ValueError: truncated or undecodable data, or more than ``max_pixels`` pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                if im.size[0] * im.size[1] > max_pixels:
                    raise ValueError(f"{im.size[0]}x{im.size[1]} exceeds max_pixels={max_pixels}")
                if im.format == "JPEG":
                    im.draft("RGB", (max_side, max_side))
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _to_rgb(im)
    except (OSError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            EOFError) as exc:  # fmt: skip
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(rgb)


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: PIL's convert("RGB") clips to 255; rescale to 8 bits instead.
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") else max(float(arr.max()), 1.0)
        grey = np.clip(arr * (255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", im.size, (255, 255, 255))
        background.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        return background
    return im.convert("RGB")
