"""Header scan: format, size, frames and orientation of an encoded image without decoding it.

PIL's ``Image.open`` reads only the header (pixels are decoded lazily by ``load``), so this
is the cheap first look every candidate gets; the resolution filters run on it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from qpt_base.images import open_image

# EXIF orientations 5..8 rotate by 90 degrees: the displayed image has width and height swapped.
_TRANSPOSED = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class Header:
    """What the header says about an image.

    Attributes:
        format: PIL format name (``JPEG``, ``PNG``, ``WEBP``, ...).
        width: displayed width (after EXIF orientation).
        height: displayed height (after EXIF orientation).
        mode: PIL mode (``RGB``, ``CMYK``, ``I;16``, ``P``, ``RGBA``, ...).
        frames: number of frames (``> 1`` for animations).
        orientation: EXIF orientation (1 = as stored; readers of the original bytes should
            apply it, e.g. ``PIL.ImageOps.exif_transpose``).
    """

    format: str
    width: int
    height: int
    mode: str
    frames: int
    orientation: int = 1


def scan_header(data: bytes) -> Header:
    """Read the header of an encoded image.

    Args:
        data: the encoded file.

    Returns:
        its :class:`Header`.

    Raises:
        ImageTooLarge: so large that PIL refuses even its header (a decompression bomb); the
            caller's own cap is checked on the returned size.
        UnreadableImage: the bytes are not an image PIL can identify (message: the reason).
    """
    with open_image(data, max_pixels=sys.maxsize) as im:  # the caller applies its own cap
        width, height = im.size
        frames = int(getattr(im, "n_frames", 1))
        orientation = im.getexif().get(_ORIENTATION_TAG, 1) if im.format == "JPEG" else 1
        fmt, mode = im.format or "", im.mode
    if orientation in _TRANSPOSED:
        width, height = height, width
    return Header(fmt, width, height, mode, frames, int(orientation))
