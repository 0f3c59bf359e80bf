"""``synthetic``: a download-free benchmark made with :mod:`degrade` (KADID-style).

Every source photo is degraded by every chosen op at levels 1..5; the label is the level
(lower is better, like a DMOS), so a backbone that sees quality ranks the levels of each op.
Random splits are grouped by source photo: no content appears on both sides, as in KADID's
reference-disjoint protocol.

Sources: ``"builtin"`` (the real photos shipped by installed packages, see
:func:`curate.sources.builtin.base_photos`) or any folder of images. Each photo is first
downscaled (antialiased) so its short side is ``size``; degradations are applied after that,
at the resolution the backbone sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.datasets.base import BenchDataset, Sample
from bench.media import IMAGE_SUFFIXES, UnreadableMedia, crop_positions, read_image, to_tensor
from bench.params import SYNTHETIC_CROPS_PER_PHOTO, SYNTHETIC_MAX_OPS, SYNTHETIC_SIZE

NAME = "synthetic"
LEVELS = (1, 2, 3, 4, 5)


def load_photos(source: str | Path) -> tuple[dict[str, np.ndarray], list[str]]:
    """Source photos by name, ``(H, W, 3)`` uint8, and the names of unreadable files.

    ``source`` is ``"builtin"`` or a folder (searched recursively for image suffixes).
    """
    if str(source) == "builtin":
        from curate.sources.builtin import base_photos

        photos = base_photos()
        if not photos:
            raise ValueError("synthetic: no built-in photo available (is scikit-image installed?)")
        return photos, []
    folder = Path(source)
    if not folder.is_dir():
        raise FileNotFoundError(f"synthetic: photo folder {folder} not found")
    photos: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        try:
            photos[str(path.relative_to(folder))] = read_image(path)
        except UnreadableMedia:
            skipped.append(str(path.relative_to(folder)))
    if not photos:
        raise ValueError(f"synthetic: no readable image in {folder}")
    return photos, skipped


def default_ops(max_ops: int | None = None) -> list[str]:
    """The KADID-style ops of :mod:`degrade` (all registered ops if none is tagged)."""
    import degrade

    ops = degrade.list_ops("kadid") or degrade.list_ops()
    if max_ops is not None and 0 < max_ops < len(ops):
        ops = [ops[i] for i in np.linspace(0, len(ops) - 1, max_ops).round().astype(int)]
    return ops


def _shrink(image: np.ndarray, size: int) -> torch.Tensor:
    x = to_tensor(image)
    h, w = x.shape[-2:]
    if min(h, w) > size:
        scale = size / min(h, w)
        new = (max(size, round(h * scale)), max(size, round(w * scale)))
        x = F.interpolate(x[None], size=new, mode="bilinear", antialias=True)[0].clamp_(0, 1)
    return x


def source_views(
    photos: dict[str, np.ndarray], crops_per_photo: int, size: int
) -> dict[str, torch.Tensor]:
    """Each photo shrunk to short side ``size``, plus ``crops_per_photo`` square crops of it
    (side: half the short side, at least ``size``; spread over the photo as
    :func:`bench.media.crop_positions` spreads them: 4 crops at the corners, 5 to 9 on a 3 x 3
    grid whose neighbours overlap by half; on a photo of short side < 2 ``size`` even the
    corners overlap), each shrunk the same way. Names: ``photo`` and ``photo#crop-N``; every
    view is its own content group."""
    out: dict[str, torch.Tensor] = {}
    for name, image in photos.items():
        out[name] = _shrink(image, size)
        h, w = image.shape[:2]
        side = min(max(size, min(h, w) // 2), h, w)
        if crops_per_photo < 1:
            continue
        for i, (y, x) in enumerate(crop_positions(h, w, side, max(2, crops_per_photo))):
            if i >= crops_per_photo:
                break
            out[f"{name}#crop-{i}"] = _shrink(image[y : y + side, x : x + side], size)
    return out


def _chosen_ops(ops: list[str] | None, max_ops: int | None) -> list[str]:
    """``ops`` checked against the registry, else the default list capped at ``max_ops``."""
    import degrade

    known = set(degrade.list_ops())
    chosen = list(ops) if ops else default_ops(max_ops)
    unknown = [op for op in chosen if op not in known]
    if unknown:
        raise ValueError(f"synthetic: unknown degradation ops {unknown} (known: {sorted(known)})")
    return chosen


def build_synthetic(
    photos: str | Path = "builtin",
    *,
    n_photos: int | None = None,
    crops_per_photo: int = SYNTHETIC_CROPS_PER_PHOTO,
    ops: list[str] | None = None,
    max_ops: int | None = SYNTHETIC_MAX_OPS,
    size: int = SYNTHETIC_SIZE,
    seed: int = 0,
) -> BenchDataset:
    """The synthetic benchmark: ``n_photos x (1 + crops_per_photo) x len(ops) x 5`` generated
    samples (the defaults: 11 built-in photos x 10 views x 8 ops x 5 levels = 4,400).

    Args:
        photos: ``"builtin"`` or a folder of images.
        n_photos: how many photos to use (sorted by name; ``None`` = all).
        crops_per_photo: more sources per photo (see :func:`source_views`); each crop is its
            own group, so random splits may put two crops of one photo on both sides.
        ops: degradation op names (:func:`degrade.list_ops`); default :func:`default_ops`.
        max_ops: cap on the default op list (evenly spread over it); ignored when ``ops``
            is given.
        size: short side of the source photos before degradation.
        seed: degradation randomness (each sample has its own fixed generator).

    Raises:
        ValueError: unknown op, or no photo.

    Unreadable photos of a folder source are listed in ``missing`` (reported, not fatal).
    """
    import degrade

    chosen = _chosen_ops(ops, max_ops)
    sources, skipped = load_photos(photos)
    chosen_photos = sorted(sources)[: n_photos if n_photos else None]
    base = source_views({n: sources[n] for n in chosen_photos}, crops_per_photo, size)
    names = list(base)
    samples = [
        Sample(f"{name}/{op}/{level}", None, float(level), name)
        for name in names
        for op in chosen
        for level in LEVELS
    ]

    cache: dict[int, np.ndarray] = {}  # every backbone reads the same pixels; a few MB

    def reader(index: int) -> np.ndarray:
        index = int(index)  # a subset passes numpy integers, which torch's seed refuses
        if index not in cache:
            name, op, level = samples[index].key.rsplit("/", 2)
            g = torch.Generator().manual_seed(seed * 1_000_003 + index)
            y = degrade.apply(base[name][None], op, int(level), generator=g)[0]
            cache[index] = (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        return cache[index]

    root = None if str(photos) == "builtin" else Path(photos)
    return BenchDataset(
        NAME, "iqa", "image", samples, (1.0, 5.0), False, missing=skipped, root=root, reader=reader
    )
