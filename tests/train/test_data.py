"""train.data: shard resolution, decoding, native crops, epoch-seeded streaming."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from train.data import ShardStream, decode_image, make_loader, random_crop, resolve_shards

from .conftest import write_shards


def test_resolve_folder_pattern_glob_and_incomplete_shards(tmp_path: Path) -> None:
    write_shards(tmp_path, n_shards=3, per_shard=2)
    (tmp_path / "shard-000002.json").unlink()  # still being written: not used
    assert [Path(u).name for u in resolve_shards(tmp_path)] == [
        "shard-000000.tar",
        "shard-000001.tar",
    ]
    assert len(resolve_shards(str(tmp_path / "shard-{000000..000002}.tar"))) == 3
    assert len(resolve_shards(str(tmp_path / "*.tar"))) == 3
    assert len(resolve_shards(str(tmp_path / "shard-000001.tar"))) == 1
    with pytest.raises(FileNotFoundError, match="no such folder"):
        resolve_shards(str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="no .tar shard"):
        resolve_shards(str(tmp_path / "*.tgz"))


def _encode(arr: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_decode_png_exactly_and_refuse_bombs_and_garbage() -> None:
    arr = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    img = decode_image(_encode(arr, "PNG"), max_pixels=10_000)
    assert img.dtype == torch.uint8 and img.shape == (3, 40, 50)
    assert torch.equal(img.permute(1, 2, 0), torch.from_numpy(arr))
    assert decode_image(_encode(arr, "WEBP"), 10_000).shape == (3, 40, 50)
    with pytest.raises(ValueError, match="pixel cap"):
        decode_image(_encode(arr, "PNG"), max_pixels=1_999)
    with pytest.raises(ValueError, match="cannot identify image file"):
        decode_image(b"not an image", 10_000)


def test_native_crop_keeps_the_original_pixels() -> None:
    img = torch.randint(0, 256, (3, 80, 100), dtype=torch.uint8)
    crop, resampled = random_crop(img, 64, random.Random(0))
    assert not resampled and crop.shape == (3, 64, 64)
    # the crop is a window of the original, pixel for pixel
    found = any(
        torch.equal(crop, img[:, t : t + 64, s : s + 64]) for t in range(17) for s in range(37)
    )
    assert found


def _photo(h: int, w: int) -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[:h, :w])


def _chw(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _best_window(crop: torch.Tensor, ref: np.ndarray) -> int:
    """Smallest max-abs difference between ``crop`` (3, S, S) and any S x S window of
    ``ref`` (H, W, 3)."""
    s = crop.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(ref.astype(np.int16), (s, s, 3))
    diff = np.abs(windows[:, :, 0] - crop.permute(1, 2, 0).numpy().astype(np.int16))
    return int(diff.max(axis=(-3, -2, -1)).min())


def test_small_images_are_upscaled_like_pil_and_resize_mode_resizes_like_pil() -> None:
    small = _photo(40, 60)  # short side 40 < 64: upscaled to 64 x 96
    crop, resampled = random_crop(_chw(small), 64, random.Random(0))
    assert resampled and crop.shape == (3, 64, 64)
    upscaled = np.asarray(Image.fromarray(small).resize((96, 64), Image.BILINEAR))
    assert _best_window(crop, upscaled) == 0  # a window of PIL's bilinear upscale, exactly
    big = _photo(300, 400)  # resize mode: short side to 96 (antialiased), then a window
    crop, resampled = random_crop(_chw(big), 64, random.Random(0), crop="resize", resize_to=96)
    assert resampled and crop.shape == (3, 64, 64)
    shrunk = np.asarray(Image.fromarray(big).resize((128, 96), Image.BILINEAR))
    assert _best_window(crop, shrunk) <= 1  # PIL's antialiased bilinear, within rounding
    aliased = np.asarray(Image.fromarray(big).resize((128, 96), Image.NEAREST))
    assert _best_window(crop, aliased) > 8  # not a plain subsampling


@pytest.mark.parametrize(("short", "resampled"), [(63, True), (64, False), (65, False)])
def test_native_crop_resamples_only_below_the_crop_size(short: int, resampled: bool) -> None:
    photo = _photo(short, 100)
    crop, was = random_crop(_chw(photo), 64, random.Random(0))
    assert was == resampled and crop.shape == (3, 64, 64)
    if resampled:  # short side to 64, the long one scaled alike (torchvision's int rule)
        size = (int(64 * 100 / short), 64)
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
    assert _best_window(crop, photo) == 0


def test_resize_mode_to_the_image_own_short_side_keeps_pixels() -> None:
    photo = _photo(96, 128)
    crop, was = random_crop(_chw(photo), 64, random.Random(0), crop="resize", resize_to=96)
    assert not was and _best_window(crop, photo) == 0


def test_stream_crops_are_windows_of_the_photo_their_key_names(tmp_path: Path) -> None:
    write_shards(tmp_path, n_shards=1, per_shard=6)
    photos = {}  # key -> the stored photo, decoded by PIL
    with tarfile.open(tmp_path / "shard-000000.tar") as tar:
        for member in tar.getmembers():
            key, ext = member.name.split(".", 1)
            if ext in ("jpg", "png"):
                photos[key] = np.asarray(Image.open(tar.extractfile(member)).convert("RGB"))
    stream = ShardStream(resolve_shards(tmp_path), 64, 3, batches_per_epoch=2, seed=0)
    batches = list(make_loader(stream, 0))
    for batch in batches:
        assert batch["resampled"] == 0 and batch["skipped"] == {}
        for key, crop in zip(batch["keys"], batch["images"], strict=True):
            assert _best_window(crop, photos[key]) == 0, key


def _keys(stream: ShardStream, epoch: int, workers: int) -> list[list[str]]:
    stream.set_epoch(epoch)
    return [b["keys"] for b in make_loader(stream, workers)]


def _pixels(stream: ShardStream, epoch: int) -> torch.Tensor:
    stream.set_epoch(epoch)
    return torch.cat([b["images"] for b in make_loader(stream, 0)])


def test_epochs_are_replayable_and_differ(shard_dir: Path) -> None:
    stream = ShardStream(resolve_shards(shard_dir), 64, 3, batches_per_epoch=4, seed=7)
    e0 = _keys(stream, 0, 0)
    assert len(e0) == 4 and all(len(k) == 3 for k in e0)
    assert _keys(stream, 0, 0) == e0
    assert torch.equal(_pixels(stream, 0), _pixels(stream, 0))
    assert not torch.equal(_pixels(stream, 1), _pixels(stream, 0))  # other crops, order
    other_seed = ShardStream(resolve_shards(shard_dir), 64, 3, batches_per_epoch=4, seed=8)
    assert not torch.equal(_pixels(other_seed, 0), _pixels(stream, 0))


def test_workers_split_the_epoch_and_stay_replayable(shard_dir: Path) -> None:
    stream = ShardStream(resolve_shards(shard_dir), 64, 2, batches_per_epoch=5, seed=0)
    first = _keys(stream, 0, 2)
    assert len(first) == 5  # 3 + 2 batches from the two workers
    assert _keys(stream, 0, 2) == first
    batch = next(iter(make_loader(stream, 0)))
    assert batch["images"].dtype == torch.uint8 and batch["images"].shape == (2, 3, 64, 64)


def test_resize_mode_needs_resize_to(shard_dir: Path) -> None:
    with pytest.raises(ValueError, match="resize_to"):
        ShardStream(resolve_shards(shard_dir), 64, 2, 1, crop="resize")


def test_loader_side_degradation_is_batched_and_replayable(shard_dir: Path) -> None:
    urls = resolve_shards(shard_dir)
    stream = ShardStream(urls, 64, 4, batches_per_epoch=2, seed=0, degrade="qpt-v2")
    first = list(make_loader(stream, 0))
    again = list(make_loader(stream, 0))
    for a, b in zip(first, again, strict=True):
        y = a["degraded"]
        assert y.dtype == torch.float32 and y.shape == (4, 3, 64, 64)
        assert 0 <= y.min() and y.max() <= 1
        assert torch.equal(y, b["degraded"])  # same epoch, same degradations
    clean = torch.cat([b["images"] for b in first]).float() / 255
    assert not torch.allclose(torch.cat([b["degraded"] for b in first]), clean, atol=1e-3)


def test_exif_orientation_is_applied_when_decoding() -> None:
    """Shards keep original bytes, so a rotated phone photo must be turned upright on decode."""
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)  # stored landscape, 40 wide
    pixels[:, :20] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": shown portrait, 20 wide x 40 high
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95, exif=exif)
    img = decode_image(buf.getvalue(), max_pixels=10_000)
    assert tuple(img.shape) == (3, 40, 20)
