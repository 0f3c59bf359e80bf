"""Fidelity against reference implementations on real photos (OpenCV / Pillow as references;
``degrade`` itself never imports them, except Pillow inside ``jpeg2000``)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import degrade.ops as ops
from degrade._linear import gaussian_taps


def _load(path: Path, size: int = 256) -> torch.Tensor:
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"))
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255
    return t[..., :size, :size].contiguous()


@pytest.fixture(scope="module")
def real(shared_data: Path) -> torch.Tensor:
    """Four real photos from ../shared/data (Kodak + CBSD68), cropped to 256 x 256."""
    files = sorted((shared_data / "photos" / "kodak").glob("*.png"))[:2]
    files += sorted((shared_data / "photos" / "cbsd68").glob("*.png"))[:2]
    return torch.cat([_load(f) for f in files])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def to_u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


@pytest.mark.parametrize("quality", [20, 50, 75, 95])
def test_jpeg_matches_pillow_and_opencv(real: torch.Tensor, quality: int) -> None:
    u8 = to_u8(real)
    ours = ops.jpeg(u8, quality).permute(0, 2, 3, 1).numpy()
    for i, img in enumerate(u8.permute(0, 2, 3, 1).numpy()):
        import io

        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
        pil = np.asarray(Image.open(buf).convert("RGB"))
        ok, enc = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        ocv = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1]
        assert psnr(ours[i], pil) >= 40, (quality, i, psnr(ours[i], pil))
        assert psnr(ours[i], ocv) >= 40, (quality, i, psnr(ours[i], ocv))
        assert psnr(ours[i], img) < 60  # it really compressed


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5, 4.0])
def test_gaussian_blur_matches_opencv(real: torch.Tensor, sigma: float) -> None:
    ours = ops.gaussian_blur(real, sigma).permute(0, 2, 3, 1).numpy()
    k = gaussian_taps(torch.tensor([sigma])).shape[1]
    for i, img in enumerate(real.permute(0, 2, 3, 1).numpy()):
        ref = cv2.GaussianBlur(img, (k, k), sigma, borderType=cv2.BORDER_REFLECT_101)
        assert np.abs(ours[i] - ref).max() <= 1 / 255


def test_gaussian_blur_uint8_matches_opencv(real: torch.Tensor) -> None:
    u8 = to_u8(real)
    ours = ops.gaussian_blur(u8, 1.5).permute(0, 2, 3, 1).numpy().astype(int)
    k = gaussian_taps(torch.tensor([1.5])).shape[1]
    for i, img in enumerate(u8.permute(0, 2, 3, 1).numpy()):
        ref = cv2.GaussianBlur(img, (k, k), 1.5).astype(int)
        assert np.abs(ours[i] - ref).max() <= 1


def test_resize_matches_opencv_area(real: torch.Tensor) -> None:
    """Our area downscale by an integer factor equals OpenCV's INTER_AREA."""
    from degrade._linear import resize_matrix

    x = real[:1]
    m = resize_matrix(256, 64, "area", x)
    ours = (m @ x @ m.T)[0].permute(1, 2, 0).numpy()
    ref = cv2.resize(x[0].permute(1, 2, 0).numpy(), (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(ours - ref).max() < 1e-5


GREY = torch.full((2, 3, 256, 256), 0.5)


@pytest.mark.parametrize("op", ["gaussian_noise", "gray_gaussian_noise"])
@pytest.mark.parametrize("sigma", [0.02, 0.05, 0.1])
def test_gaussian_noise_sigma(op: str, sigma: float) -> None:
    y = ops.__dict__[op](GREY, sigma, generator=torch.Generator().manual_seed(0))
    measured = float((y - GREY).std())
    assert abs(measured - sigma) / sigma < 0.05


@pytest.mark.parametrize("sigma", [0.05, 0.2])
def test_multiplicative_noise_sigma(sigma: float) -> None:
    y = ops.multiplicative_noise(GREY, sigma, generator=torch.Generator().manual_seed(0))
    measured = float(((y - GREY) / GREY).std())
    assert abs(measured - sigma) / sigma < 0.05


@pytest.mark.parametrize("photons", [10.0, 60.0])
def test_shot_noise_sigma(photons: float) -> None:
    y = ops.shot_noise(GREY, photons, generator=torch.Generator().manual_seed(0))
    expected = (0.5 / photons) ** 0.5
    assert abs(float((y - GREY).std()) - expected) / expected < 0.05
    assert abs(float(y.mean()) - 0.5) < 0.01


def test_poisson_noise_scale() -> None:
    y = ops.poisson_noise(GREY, 1.0, generator=torch.Generator().manual_seed(0))
    expected = (0.5 / 255) ** 0.5
    assert abs(float((y - GREY).std()) - expected) / expected < 0.05


def test_impulse_noise_amount() -> None:
    y = ops.impulse_noise(GREY, 0.1, generator=torch.Generator().manual_seed(0))
    hit = (y != GREY).float().mean()
    assert abs(float(hit) - 0.1) < 0.005
    assert set(torch.unique(y).tolist()) == {0.0, 0.5, 1.0}
    salt, pepper = float((y == 1).float().mean()), float((y == 0).float().mean())
    assert abs(salt - pepper) < 0.005  # half each


def test_white_noise_color_component_keeps_luma() -> None:
    y = ops.white_noise_color_component(GREY, 0.05, generator=torch.Generator().manual_seed(0))
    luma = 0.299 * y[:, 0] + 0.587 * y[:, 1] + 0.114 * y[:, 2]
    assert float((luma - 0.5).abs().max()) < 1e-4
    assert float((y - GREY).std()) > 0.02


def test_jpeg2000_round_trip(real: torch.Tensor) -> None:
    x = real[:1]
    hi = psnr(ops.jpeg2000(to_u8(x), 8.0).numpy(), to_u8(x).numpy())
    lo = psnr(ops.jpeg2000(to_u8(x), 100.0).numpy(), to_u8(x).numpy())
    assert 30 < hi < 60 and lo < hi - 5


@pytest.fixture
def opj_threads_seen(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """``OPJ_NUM_THREADS`` as each JPEG2000 encode saw it (unset before the test)."""
    seen: list[str | None] = []
    save = Image.Image.save

    def spy(self: Image.Image, *a: object, **k: object) -> None:
        seen.append(os.environ.get("OPJ_NUM_THREADS"))
        save(self, *a, **k)

    monkeypatch.setattr(Image.Image, "save", spy)
    monkeypatch.delenv("OPJ_NUM_THREADS", raising=False)
    return seen


def test_jpeg2000_in_degrader_workers_keeps_the_callers_threads(
    real: torch.Tensor, opj_threads_seen: list[str | None]
) -> None:
    """Workers run torch on one thread each; OpenJPEG, which holds the GIL while the other
    workers wait, still gets the caller's thread count."""
    import degrade

    params = [{"ops": [{"op": "jpeg2000", "level": 3, "rate": 24.0}]} for _ in range(2)]
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        degrade.Degrader(chunk=1, workers=2).replay(to_u8(real[:2]), params)
    finally:
        torch.set_num_threads(threads)
    assert opj_threads_seen == ["2", "2"]


def test_pixelate_blocks_are_constant(real: torch.Tensor) -> None:
    y = ops.pixelate(real[:1], 4)
    blocks = y[0, :, :252, :252].reshape(3, 63, 4, 63, 4)
    assert float((blocks - blocks[:, :, :1, :, :1]).abs().max()) == 0


@pytest.mark.parametrize("op", sorted(set(__import__("degrade").list_ops("kadid"))))
def test_kadid_levels_monotone_on_real_photos(real: torch.Tensor, op: str) -> None:
    """bench labels synthetic distortions by level: PSNR must fall with the level on every
    photo (Kodak and CBSD68 crops, 128 x 128, one generator seed for all levels)."""
    import degrade

    x = real[..., 64:192, 64:192].contiguous()
    ps = []
    for lv in range(1, 6):
        y = degrade.apply(x, op, level=lv, generator=torch.Generator().manual_seed(0))
        ps.append(10 * torch.log10(1 / ((y - x) ** 2).mean((1, 2, 3))))
    ps_t = torch.stack(ps, 1)  # (B, 5)
    assert bool((ps_t[:, 1:] < ps_t[:, :-1]).all()), ps_t.round(decimals=2).tolist()


def test_jpeg2000_codes_on_torch_threads_with_the_same_output(
    real: torch.Tensor, opj_threads_seen: list[str | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = opj_threads_seen
    x, threads = to_u8(real[:2]), torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = ops.jpeg2000(x, 24.0)
        torch.set_num_threads(2)
        two = ops.jpeg2000(x, 24.0)
    finally:
        torch.set_num_threads(threads)
    assert seen == [None, None, "2", "2"]  # one thread: no OpenJPEG pool at all
    assert "OPJ_NUM_THREADS" not in os.environ  # restored after the call
    assert torch.equal(one, two)
    monkeypatch.setenv("OPJ_NUM_THREADS", "3")  # the user's setting wins
    ops.jpeg2000(x[:1], 24.0)
    assert seen[-1] == "3"
