"""Safe decoding and quality-preserving views."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from bench import media
from bench.media import UnreadableMedia, crop_positions, make_crops, random_crop, read_image
from tests.bench.releases import video


def test_crops_are_native_resolution_pixels():
    img = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    views = make_crops(img, 224, n=1)
    assert views.shape == (1, 3, 224, 224)
    y, x = (300 - 224) // 2, (400 - 224) // 2
    assert torch.equal(
        views[0], torch.from_numpy(img[y : y + 224, x : x + 224]).permute(2, 0, 1) / 255.0
    )


def test_several_crops_spread_over_the_image():
    pos = crop_positions(300, 400, 224, 4)
    assert pos == [(0, 0), (0, 176), (76, 0), (76, 176)]
    assert len(set(crop_positions(300, 400, 224, 5))) == 5
    with pytest.raises(ValueError, match="at least one crop"):
        crop_positions(300, 400, 224, 0)


def test_small_images_are_upscaled_just_enough_and_resize_mode_squashes():
    img = np.full((40, 60, 3), 128, np.uint8)
    assert make_crops(img, 64, n=2).shape == (2, 3, 64, 64)
    assert make_crops(img, 32, mode="resize").shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown mode"):
        make_crops(img, 32, mode="squash")


def test_random_crop_is_seeded():
    img = np.random.default_rng(1).integers(0, 256, (100, 120, 3), dtype=np.uint8)
    a = random_crop(img, 32, torch.Generator().manual_seed(3))
    b = random_crop(img, 32, torch.Generator().manual_seed(3))
    assert a.shape == (3, 32, 32) and torch.equal(a, b)


def test_unreadable_images_raise_unreadable_media(tmp_path):
    (tmp_path / "text.jpg").write_text("not an image")
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    for name in ("text.jpg", "cut.jpg", "absent.jpg"):
        with pytest.raises(UnreadableMedia, match=name):
            read_image(tmp_path / name)
    assert read_image(tmp_path / "ok.jpg").shape == (64, 64, 3)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(media, "MAX_PIXELS", 1000)
    with pytest.raises(UnreadableMedia, match="big.png"):
        read_image(tmp_path / "big.png")
    monkeypatch.undo()
    assert read_image(tmp_path / "big.png").shape == (80, 80, 3)


def test_video_frames_evenly_spaced(tmp_path):
    video(tmp_path / "v.mp4", 0.0, frames=9)
    frames = media.read_video_frames(tmp_path / "v.mp4", 3)
    assert len(frames) == 3 and frames[0].shape == (24, 32, 3)
    means = [f.mean() for f in frames]
    assert means[0] < means[1] < means[2]  # the fixture brightens frame by frame
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 100)
    with pytest.raises(UnreadableMedia, match="bad.mp4"):
        media.read_video_frames(tmp_path / "bad.mp4", 3)
