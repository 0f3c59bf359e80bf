"""Small WebDataset shards of real photos (scikit-image samples), written with TarWriter."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds
from PIL import Image


def _photos() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]


def write_shards(
    folder: Path,
    n_shards: int = 2,
    per_shard: int = 6,
    size: tuple[int, int] = (96, 128),
    corrupt_keys: tuple[str, ...] = (),
    seed: int = 0,
) -> list[Path]:
    """Crops of real photos as ``KEY.jpg|png`` + ``KEY.json``; ``corrupt_keys`` get garbage."""
    rng = np.random.default_rng(seed)
    photos = _photos()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in range(n_shards):
        path = folder / f"shard-{s:06d}.tar"
        with wds.TarWriter(str(path)) as sink:
            for i in range(per_shard):
                key = f"{s:03d}{i:03d}"
                photo = photos[(s * per_shard + i) % len(photos)]
                h, w = size
                top = rng.integers(0, photo.shape[0] - h)
                left = rng.integers(0, photo.shape[1] - w)
                buf = io.BytesIO()
                fmt = "png" if i % 3 == 2 else "jpg"
                Image.fromarray(photo[top : top + h, left : left + w]).save(
                    buf, format="PNG" if fmt == "png" else "JPEG", quality=95
                )
                data = b"\xff\xd8 not a jpeg" if key in corrupt_keys else buf.getvalue()
                sink.write({"__key__": key, fmt: data, "json": json.dumps({"key": key})})
        (folder / f"shard-{s:06d}.json").write_text(json.dumps({"count": per_shard}))
        paths.append(path)
    return paths


def tiny_params(**overrides):
    """PretrainParams of a seconds-long run: qpt HiViT-nano (default) at 64 px, batch 4."""
    from train.config import PretrainParams

    base = dict(
        model="mae_qpt_hivit_nano",
        img_size=64,
        batch_size=4,
        steps=6,
        warmup_steps=1,
        ckpt_every=3,
        image_every=3,
        log_every=1,
        num_workers=0,
        degrade=None,
    )
    return PretrainParams(**{**base, **overrides})


@pytest.fixture
def dist(device):
    """One process, no process group, on ``device`` (tests/conftest.py: cpu; cuda with -m gpu)."""
    from train.distributed import DistInfo

    return DistInfo(0, 1, 0, device, False)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """These tests run small models beside other test processes on 2 cores: one intra-op
    thread each is several times faster than oversubscribed pairs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two complete shards of 6 real-photo crops each (96x128)."""
    folder = tmp_path_factory.mktemp("shards")
    write_shards(folder)
    return folder
