"""Fixtures of curate tests: real photos (shared data when present, else built-in) and
tiny inputs in each source's real format."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import SHARED_DATA


def _load_photos(limit: int) -> dict[str, np.ndarray]:
    folder = SHARED_DATA / "photos" / "kodak"
    if folder.is_dir():
        files = sorted(folder.glob("*.png"))[:limit]
        return {f.stem: np.asarray(Image.open(f).convert("RGB")) for f in files}
    from curate.sources.builtin import base_photos

    return dict(list(base_photos().items())[:limit])


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    """Six real photos (Kodak from ../shared/data when present, else the built-in ones)."""
    return _load_photos(6)


def encode(image: np.ndarray, fmt: str = "JPEG", **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def sa1b_tar(path: Path, items: list[tuple[str, bytes | None, dict | None]]) -> Path:
    """An SA-1B style tar: ``sa_N.jpg`` + ``sa_N.json`` (``image`` + ``annotations``)."""
    with tarfile.open(path, "w") as tar:
        for stem, jpg, info in items:
            if jpg is not None:
                add_member(tar, f"{stem}.jpg", jpg)
            if info is not None:
                add_member(tar, f"{stem}.json", json.dumps(info).encode())
    return path


def sa1b_json(stem: str, width: int, height: int, objects: int) -> dict:
    ann = {"bbox": [0, 0, 1, 1], "area": 1, "segmentation": {"size": [height, width], "counts": ""}}
    return {
        "image": {"image_id": int(stem.split("_")[1]), "width": width, "height": height,
                  "file_name": f"{stem}.jpg"},
        "annotations": [dict(ann, id=i) for i in range(objects)],
    }  # fmt: skip
