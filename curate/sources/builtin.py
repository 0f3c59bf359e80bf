"""The built-in corpus: real photographs shipped inside installed packages, made messy.

No download is needed: scikit-image (``skimage.data``), scikit-learn (``load_sample_images``)
and matplotlib (``sample_data/grace_hopper.jpg``) ship a dozen real colour photos. From them
:func:`materialize` writes a deterministic corpus of a few hundred candidate files that looks
like what a curator meets in the wild:

* the originals (PNG, JPEG or WebP),
* crops at several scales, some below any sensible resolution threshold,
* thin strips with extreme aspect ratios,
* exact duplicates (byte copies under other names),
* near duplicates (re-encoded at lower JPEG quality, resized, slightly cropped, colour-shifted),
* broken files (truncated, zero bytes, text with an image extension).

``corpus.json`` beside the files records the provenance of every file (``kind`` and, for
duplicates, ``dup_of``), so dedup recall and filter decisions can be checked against truth.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

CORPUS_VERSION = 1
INDEX_NAME = "corpus.json"


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / filename
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))

    return load


# Real colour photographs only (no synthetic test patterns such as colorwheel or logo).
_PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "hubble": _skimage("hubble_deep_field"),
    "retina": _skimage("retina"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "china": _sklearn(0),
    "flower": _sklearn(1),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def base_photos(names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The real photos installed packages ship, by name, as ``(H, W, 3)`` uint8 RGB arrays.

    Args:
        names: only these photos (default: all of them); unknown names raise ``ValueError``.

    A photo whose package is missing is left out; at least scikit-image's are always there
    (it is a dependency of qpt).
    """
    unknown = set(names or ()) - set(_PHOTOS)
    if unknown:
        raise ValueError(f"unknown built-in photos {sorted(unknown)} (known: {list(_PHOTOS)})")
    photos: dict[str, np.ndarray] = {}
    for name, load in _PHOTOS.items():
        if names is not None and name not in names:
            continue
        try:
            image = load()
        except (ImportError, OSError, AttributeError):
            continue
        photos[name] = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
    return photos


def _encode(image: np.ndarray, fmt: str, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    pil = Image.fromarray(image)
    if fmt == "jpg":
        pil.save(buf, format="JPEG", quality=quality)
    elif fmt == "webp":
        pil.save(buf, format="WEBP", quality=quality)
    else:
        pil.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _crop(image: np.ndarray, rng: np.random.Generator, scale: float, aspect: float = 1.0):
    """A random crop with short side ``scale * min(H, W)`` and width/height ratio ``aspect``."""
    h, w = image.shape[:2]
    ch = max(8, int(round(min(h, w) * scale / max(aspect, 1.0))))
    cw = max(8, int(round(ch * aspect)))
    ch, cw = min(ch, h), min(cw, w)
    top = int(rng.integers(0, h - ch + 1))
    left = int(rng.integers(0, w - cw + 1))
    return image[top : top + ch, left : left + cw]


def _near_duplicate(image: np.ndarray, rng: np.random.Generator, how: str) -> np.ndarray:
    h, w = image.shape[:2]
    if how == "resize":
        f = float(rng.uniform(0.6, 0.9))
        size = (max(8, int(w * f)), max(8, int(h * f)))
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    if how == "crop":
        f = float(rng.uniform(0.05, 0.10))
        dy, dx = int(h * f / 2), int(w * f / 2)
        return image[dy : h - dy, dx : w - dx]
    if how == "colour":
        shift = rng.uniform(-8, 8, size=3)
        return np.clip(image.astype(np.float32) + shift, 0, 255).astype(np.uint8)
    return image  # "reencode": same pixels, new (lower) JPEG quality at encode time


def materialize(out_dir: Path | str, seed: int = 0, photos: Sequence[str] | None = None) -> Path:
    """Write the built-in corpus under ``out_dir`` (idempotent) and return ``out_dir``.

    The same ``seed`` gives byte-identical files. A folder already holding a complete corpus
    of this version and seed is left as it is; a partial one (an interrupted write) is
    rebuilt, because the corpus is first written to a temporary sibling folder and renamed.

    Args:
        out_dir: folder to create; its files are ``<photo>/<photo>_<kind>_<n>.<ext>``.
        seed: seed of every random choice (crops, encodings, duplicates).
        photos: build from these base photos only (default: all; fewer make quick fixtures).

    Returns:
        ``out_dir``; ``out_dir / "corpus.json"`` lists every file with its provenance.
    """
    out_dir = Path(out_dir)
    index_path = out_dir / INDEX_NAME
    if index_path.is_file():
        index = json.loads(index_path.read_text())
        if (
            index.get("version") == CORPUS_VERSION
            and index.get("seed") == seed
            and index.get("photos") == _photo_key(photos)
        ):
            return out_dir
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    entries = _write_corpus(tmp, seed, base_photos(photos))
    index = {"version": CORPUS_VERSION, "seed": seed, "photos": _photo_key(photos)}
    (tmp / INDEX_NAME).write_text(json.dumps({**index, "files": entries}, indent=1))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir


def _photo_key(photos: Sequence[str] | None) -> list[str] | None:
    return None if photos is None else sorted(photos)


class _Writer:
    """Writes the corpus files under ``root`` and records each one's provenance."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[dict] = []

    def put(self, rel: str, data: bytes, kind: str, photo: str, dup_of: str | None = None) -> str:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries.append(
            {
                "path": rel,
                "photo": photo,
                "kind": kind,
                "dup_of": dup_of,
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        return rel


def _write_corpus(root: Path, seed: int, photos: dict[str, np.ndarray]) -> list[dict]:
    out = _Writer(root)
    for name, image in sorted(photos.items()):
        # Each photo's choices depend on its own name, so subsets reproduce the full corpus.
        p_index = sorted(_PHOTOS).index(name)
        rng = np.random.default_rng([seed, p_index])
        originals = _put_originals(out, name, image, p_index, rng)
        _put_near_duplicates(out, name, image, originals, rng)
        _put_exact_duplicates(out, name, originals)
        _put_broken(out, name, image, originals, p_index)
    return out.entries


def _put_originals(
    out: _Writer, name: str, image: np.ndarray, p_index: int, rng: np.random.Generator
) -> list[str]:
    """The photo, its crops and a thin strip; returns the photo's and the crops' paths."""
    fmt = ("png", "jpg", "webp")[p_index % 3]
    originals = [out.put(f"{name}/{name}_original.{fmt}", _encode(image, fmt), "original", name)]

    # Crops from large (kept by a resolution filter) down to tiny (rejected).
    scales = (0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.1)
    for c_index, scale in enumerate(scales):
        crop = _crop(image, rng, scale, aspect=float(rng.uniform(0.75, 1.5)))
        c_fmt = ("jpg", "png", "webp")[(p_index + c_index) % 3]
        rel = f"{name}/{name}_crop{c_index}.{c_fmt}"
        originals.append(out.put(rel, _encode(crop, c_fmt, quality=92), "crop", name))

    # A thin strip: fine resolution on one side, absurd aspect ratio.
    strip = _crop(image, rng, 0.95, aspect=5.0 if p_index % 2 else 0.2)
    out.put(f"{name}/{name}_strip.png", _encode(strip, "png"), "strip", name)
    return originals


def _put_near_duplicates(
    out: _Writer, name: str, image: np.ndarray, originals: list[str], rng: np.random.Generator
) -> None:
    """Near duplicates of the original and of the largest crop."""
    hows = ("reencode", "resize", "crop", "colour", "reencode", "resize")
    for d_index, how in enumerate(hows):
        src_rel = originals[d_index % 2]
        src = image if d_index % 2 == 0 else _decode(out.root / src_rel)
        dup = _near_duplicate(src, rng, how)
        quality = int(rng.integers(55, 85))
        rel = f"{name}/{name}_near{d_index}_{how}.jpg"
        out.put(rel, _encode(dup, "jpg", quality=quality), "near_duplicate", name, src_rel)


def _put_exact_duplicates(out: _Writer, name: str, originals: list[str]) -> None:
    """Byte copies, in another folder as a crawler would leave them."""
    for e_index, src_rel in enumerate(originals[:2]):
        ext = src_rel.rsplit(".", 1)[1]
        rel = f"mirror/{name}_copy{e_index}.{ext}"
        out.put(rel, (out.root / src_rel).read_bytes(), "exact_duplicate", name, src_rel)


def _put_broken(
    out: _Writer, name: str, image: np.ndarray, originals: list[str], p_index: int
) -> None:
    """One broken file, one kind per photo in turn."""
    broken = p_index % 4
    if broken == 0:
        out.put(f"broken/{name}_truncated.jpg", _encode(image, "jpg")[:2000], "corrupt", name)
    elif broken == 1:
        out.put(f"broken/{name}_empty.png", b"", "corrupt", name)
    elif broken == 2:
        out.put(f"broken/{name}_notes.jpg", b"not an image\n" * 20, "corrupt", name)
    else:
        good = (out.root / originals[1]).read_bytes()
        ext = originals[1].rsplit(".", 1)[1]
        out.put(f"broken/{name}_cut.{ext}", good[: len(good) // 3], "corrupt", name)


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def corpus_index(out_dir: Path | str) -> list[dict]:
    """The provenance records of a materialised corpus (one dict per file)."""
    return json.loads((Path(out_dir) / INDEX_NAME).read_text())["files"]
