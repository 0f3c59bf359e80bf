"""The shared base below every qpt package: image decoding with one pixel cap, atomic
writes, device resolution and fingerprints; one writer per output folder
(:mod:`qpt_base.lock`), paths as lossless text (:mod:`qpt_base.paths`) and pool workers
that die with their parent (:mod:`qpt_base.process`).

It imports nothing of the project (``curate``, ``degrade``, ``train``, ``bench`` and ``qpt``
all import it; it imports none of them), and torch only inside :mod:`qpt_base.device`.
"""

from qpt_base.atomic import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text
from qpt_base.fingerprint import fingerprint, sha256_bytes, sha256_file
from qpt_base.images import MAX_PIXELS, UnreadableImage, decode_rgb, image_size, open_image

__all__ = [
    "MAX_PIXELS",
    "UnreadableImage",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "decode_rgb",
    "fingerprint",
    "image_size",
    "open_image",
    "sha256_bytes",
    "sha256_file",
]
