"""Perceptual hash (pHash): 64-bit DCT hash of a grey thumbnail, robust to re-encoding and resizing.

Written by hand (no maintained pHash in our dependency set; OpenCV's ``img_hash`` lives in the
contrib build only). The recipe is the classic one (Zauner 2010, as in ``imagehash.phash``):
grey 32x32 thumbnail (area resampling), 2-D DCT-II, keep the 8x8 lowest frequencies, one bit
per coefficient: above the median of those 64 coefficients.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.fft import dctn

HASH_BITS = 64
_SIDE = 32
_LOW = 8


def phash(image: Image.Image) -> np.ndarray:
    """pHash of one image.

    Args:
        image: any PIL image (converted to grey ``L``).

    Returns:
        ``(8,)`` uint8: the 64 bits packed big-endian, the layout FAISS binary indexes take.

    Example:
        >>> from PIL import Image
        >>> phash(Image.new("RGB", (64, 48), "white")).shape
        (8,)
    """
    grey = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.BOX)
    return phash_from_grey(np.asarray(grey, dtype=np.float32)[None])[0]


def phash_from_grey(thumbs: np.ndarray) -> np.ndarray:
    """pHash of a batch of grey thumbnails.

    Args:
        thumbs: ``(B, 32, 32)`` float grey levels.

    Returns:
        ``(B, 8)`` uint8 packed hashes.
    """
    if thumbs.ndim != 3 or thumbs.shape[1:] != (_SIDE, _SIDE):
        raise ValueError(f"phash: expected (B, {_SIDE}, {_SIDE}) thumbnails, got {thumbs.shape}")
    low = dctn(thumbs, type=2, axes=(1, 2), norm="ortho")[:, :_LOW, :_LOW].reshape(len(thumbs), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise Hamming distance between packed hashes.

    Args:
        a: ``(..., 8)`` uint8.
        b: ``(..., 8)`` uint8, broadcastable with ``a``.

    Returns:
        ``(...)`` int distances in ``[0, 64]``.
    """
    return np.unpackbits(np.bitwise_xor(a, b), axis=-1).sum(axis=-1)


def to_hex(code: np.ndarray) -> str:
    """``(8,)`` uint8 hash -> 16 hex digits (the manifest's ``phash`` column)."""
    return bytes(code).hex()


def from_hex(text: str) -> np.ndarray:
    """16 hex digits -> ``(8,)`` uint8 hash."""
    return np.frombuffer(bytes.fromhex(text), dtype=np.uint8).copy()
