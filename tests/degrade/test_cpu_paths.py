"""The CPU forms of the linear filters and colour spaces equal the library forms they replace
(kornia, F.interpolate), so the CPU and CUDA paths compute the same operator."""

from __future__ import annotations

import math

import kornia
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import degrade
from degrade._cpu_filters import (
    band_taps,
    banded_separable,
    fft_filter2d,
    filter2d_image,
    plateau_passes,
    plateau_rows,
    plateau_rows_filter2d,
    resize_roundtrip_image,
    separable_taps,
)
from degrade._lab import lab_to_rgb, rgb_to_lab
from degrade._linear import _roundtrip, gaussian_taps
from degrade.kernels import disc_kernel, motion_kernel
from degrade.ops.resize import resize_to


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5, 6.0])
def test_separable_taps_equals_kornia(photo: torch.Tensor, sigma: float) -> None:
    taps = gaussian_taps(torch.tensor([sigma]))
    ref = kornia.filters.filter2d_separable(photo, taps, taps, border_type="reflect")
    torch.testing.assert_close(
        separable_taps(photo[0], taps[0].tolist()), ref[0], atol=1e-6, rtol=0
    )


def test_separable_taps_handles_asymmetric_taps(photo: torch.Tensor) -> None:
    taps = torch.tensor([[0.1, 0.5, 0.2, 0.15, 0.05]])
    ref = kornia.filters.filter2d_separable(photo, taps, taps, border_type="reflect")
    torch.testing.assert_close(
        separable_taps(photo[0], taps[0].tolist()), ref[0], atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("mode", ["area", "bilinear", "bicubic"])
@pytest.mark.parametrize("size", [(100, 57), (30, 121), (19, 19)])
def test_resize_roundtrip_image_equals_interpolate(
    photo: torch.Tensor, mode: str, size: tuple[int, int]
) -> None:
    """Both CPU forms (band tap loop, matrices) equal F.interpolate down and back up."""
    back = "bilinear" if mode == "area" else mode
    ref = resize_to(resize_to(photo, size, mode), (128, 128), back)[0]
    torch.testing.assert_close(resize_roundtrip_image(photo[0], size, mode), ref, atol=2e-5, rtol=0)
    th, lo_h = band_taps(_roundtrip(128, size[0], mode, "cpu", torch.float32))
    tw, lo_w = band_taps(_roundtrip(128, size[1], mode, "cpu", torch.float32))
    torch.testing.assert_close(
        banded_separable(photo[0], th, lo_h, tw, lo_w), ref, atol=2e-5, rtol=0
    )


def test_band_taps_reconstruct_the_matrix() -> None:
    m = torch.zeros(6, 6)
    m[0, :2], m[3, 4], m[5, 2] = torch.tensor([0.5, 0.5]), 1.0, 0.25
    taps, lo = band_taps(m)
    assert lo == -3 and taps.shape == (6, 5)
    x = torch.rand(1, 6, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(banded_separable(x, taps, lo, taps, lo), m @ x @ m.T)


@pytest.mark.parametrize(
    "kernel",
    [
        disc_kernel(11, torch.tensor([4.0]))[0],
        motion_kernel(23, torch.tensor([18.0]), torch.tensor([30.0]))[0],
    ],
)
def test_fft_filter2d_equals_kornia(photo: torch.Tensor, kernel: torch.Tensor) -> None:
    ref = kornia.filters.filter2d(photo, kernel[None], border_type="reflect")[0]
    torch.testing.assert_close(fft_filter2d(photo[0], kernel), ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "kernel",
    [
        disc_kernel(5, torch.tensor([1.0]))[0],
        disc_kernel(11, torch.tensor([3.5]))[0],
        disc_kernel(19, torch.tensor([8.0]))[0],
        motion_kernel(9, torch.tensor([7.0]), torch.tensor([0.0]))[0],  # one flat row
        torch.outer(*[torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1])] * 2),  # no plateaus at all
    ],
)
def test_plateau_rows_filter2d_equals_kornia(photo: torch.Tensor, kernel: torch.Tensor) -> None:
    rows = plateau_rows(kernel)
    assert rows is not None
    ref = kornia.filters.filter2d(photo, kernel[None], border_type="reflect")[0]
    torch.testing.assert_close(
        plateau_rows_filter2d(photo[0], kernel, rows), ref, atol=5e-6, rtol=0
    )


def test_plateau_rows_describe_a_disc() -> None:
    rows = plateau_rows(disc_kernel(11, torch.tensor([3.5]))[0])
    # radius 3.5: weight clamp(4 - distance, 0, 1), so rows 4 and 5 are empty
    assert rows is not None and [dy for dy, *_ in rows] == [0, 1, 2, 3]
    assert rows[0][2:] == (3, ())  # |dx| <= 3 flat, dx = 4 at distance 4 has weight 0
    _, v, a, edges = rows[1]
    assert a == 2 and [dx for dx, _ in edges] == [3] and 0 < edges[0][1] < v
    assert plateau_passes(rows) < 11 * 11  # far fewer than a direct 11 x 11 correlation


def test_plateau_rows_reject_asymmetric_kernels() -> None:
    assert plateau_rows(motion_kernel(9, torch.tensor([7.0]), torch.tensor([30.0]))[0]) is None
    assert plateau_rows(torch.ones(3, 5) / 15) is None


@pytest.mark.parametrize("k", [5, 13, 23])
def test_filter2d_image_equals_kornia_on_every_path(photo: torch.Tensor, k: int) -> None:
    for kernel in (
        disc_kernel(k, torch.tensor([(k - 3) / 2]))[0],
        motion_kernel(k, torch.tensor([k - 2.0]), torch.tensor([30.0]))[0],
    ):
        ref = kornia.filters.filter2d(photo, kernel[None], border_type="reflect")[0]
        torch.testing.assert_close(filter2d_image(photo[0], kernel), ref, atol=1e-5, rtol=0)


def test_lab_matches_kornia(photo: torch.Tensor) -> None:
    noise = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    x = torch.cat([photo, noise, torch.zeros(1, 3, 128, 128)])
    lab = rgb_to_lab(x)
    torch.testing.assert_close(lab, kornia.color.rgb_to_lab(x), atol=2e-4, rtol=0)
    lab[:, 1:] *= 3  # out of gamut: the clipping branch
    ref = kornia.color.lab_to_rgb(lab, clip=True)
    torch.testing.assert_close(lab_to_rgb(lab), ref, atol=5e-5, rtol=0)  # float32 rounding


def test_cpu_lab_round_trip_matches_kornia(photo: torch.Tensor) -> None:
    """The per-image CPU form (both curves' knees, the out-of-gamut clip) against kornia's
    conversions, on a photo, noise, black, white and saturated primaries, a* and b* tripled
    in between."""
    from degrade._lab import ab_images

    noise = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    flat = torch.tensor([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [0.02, 0.01, 0]])
    flats = flat.float().view(-1, 3, 1, 1).expand(-1, 3, 128, 128)
    x = torch.cat([photo, noise, flats]).contiguous()

    def triple(_: int, f: torch.Tensor) -> None:
        f[0::2] = 3 * f[0::2] - 2 * f[1]  # a*, b* times 3

    lab = kornia.color.rgb_to_lab(x)
    lab[:, 1:] *= 3
    ref = kornia.color.lab_to_rgb(lab, clip=True)
    torch.testing.assert_close(ab_images(x, triple), ref, atol=2e-4, rtol=0)
    identity = ab_images(x, lambda i, f: None)
    torch.testing.assert_close(identity, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize("preset", ["qpt-v2", "kadid", "realesrgan"])
def test_degrader_leaves_its_input_untouched(photos: torch.Tensor, preset: str) -> None:
    """Ops run in place on their own results, never on the caller's batch (also when a step
    touches only some samples, or none)."""
    x = photos.repeat(3, 1, 1, 1)
    before = x.clone()
    for chunk in (1, 4, None):
        degrade.Degrader(preset, chunk=chunk)(x, generator=torch.Generator().manual_seed(1))
        assert torch.equal(x, before)
    u8 = (x * 255).round().to(torch.uint8)
    u8_before = u8.clone()
    y, _ = degrade.Degrader(preset)(u8, generator=torch.Generator().manual_seed(1))
    assert torch.equal(u8, u8_before) and y.dtype == torch.uint8


def test_empty_plans_return_a_copy(photos: torch.Tensor) -> None:
    d = degrade.Degrader(degrade.Op("gaussian_blur", p=0.0))
    y, params = d(photos)
    assert all(p["ops"] == [] for p in params)
    assert torch.equal(y, photos) and y.data_ptr() != photos.data_ptr()


def test_interpolate_reference_is_antialiased(photo: torch.Tensor) -> None:
    """Guard for the reference used above: shrinking uses antialias, like resize's docs say."""
    a = resize_to(photo, (32, 32), "bilinear")
    b = F.interpolate(photo, size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
    assert torch.equal(a, b)


def test_cpu_gaussian_blur_equals_the_cuda_form(photos: torch.Tensor) -> None:
    """Per-image Python taps + tap loop (CPU) == zero-padded batch taps + kornia (CUDA form)."""
    from degrade._linear import gaussian_blur_separable

    sigma = torch.tensor([0.05, 1.0 / 3.0, 2.7])
    taps = gaussian_taps(sigma)
    ref = kornia.filters.filter2d_separable(photos, taps, taps, border_type="reflect")
    torch.testing.assert_close(gaussian_blur_separable(photos, sigma), ref, atol=1e-6, rtol=0)


@pytest.mark.parametrize("factor", [0.0, 0.3, 1.0, 2.5, 16.0])
def test_hsv_saturation_closed_form_equals_kornia(photos: torch.Tensor, factor: float) -> None:
    from degrade.ops.color import hsv_saturation

    f = torch.full((photos.shape[0],), factor)
    ref = kornia.enhance.adjust_saturation(photos, f)
    torch.testing.assert_close(hsv_saturation(photos, f), ref, atol=2e-5, rtol=0)


def test_luma_quantization_equals_the_ycbcr_round_trip(photos: torch.Tensor) -> None:
    """x + (Q(Y) - Y) is kornia's RGB -> YCbCr -> quantise Y -> RGB, up to the rounding of
    kornia's inverse matrix (its plain round trip is off by as much)."""
    from degrade.ops.color import _quantize

    levels = torch.tensor([2, 5, 17])
    ycc = kornia.color.rgb_to_ycbcr(photos)
    ycc = torch.cat([_quantize(ycc[:, :1], levels), ycc[:, 1:]], 1)
    ref = kornia.color.ycbcr_to_rgb(ycc).clamp(0, 1)
    roundtrip = (kornia.color.ycbcr_to_rgb(kornia.color.rgb_to_ycbcr(photos)) - photos).abs().max()
    ours = degrade.get_op("quantization").run(photos, [{"levels": int(v)} for v in levels])
    assert float((ours - ref).abs().max()) <= float(roundtrip) + 1e-5


@pytest.mark.parametrize("t", [(0.0, 0.0), (2.5, -1.25), (-7.3, 4.0), (15.9, -15.9), (-3.0, 0.5)])
def test_shift_image_equals_kornia_translate(photos: torch.Tensor, t: tuple[float, float]) -> None:
    from kornia.geometry.transform import translate

    from degrade.ops.color import shift_image

    x = photos[:1, 1:2]
    ref = translate(x, torch.tensor([t]), padding_mode="reflection", align_corners=True)
    torch.testing.assert_close(shift_image(x[0], *t)[None], ref, atol=1e-5, rtol=0)


def test_cpu_resize_caches_only_band_taps(photo: torch.Tensor) -> None:
    """Random scales make hundreds of distinct round trips: on CPU only their bands (kB) are
    kept, not the dense (n, n) round-trip operators (hundreds of kB each)."""
    from degrade._cpu_filters import roundtrip_taps
    from degrade._linear import _ROUNDTRIPS

    dense_before = len(_ROUNDTRIPS)
    for scale, mode in [(0.8321, "bilinear"), (0.4321, "bicubic")]:
        degrade.ops.resize(photo, scale, mode)
        assert roundtrip_taps(128, round(128 * scale), mode, torch.float32)[0].shape[0] == 128
    assert len(_ROUNDTRIPS) == dense_before


def test_fast_len_is_the_next_5_smooth_size() -> None:
    from degrade._cpu_filters import fast_len

    def smooth(n: int) -> bool:
        for f in (2, 3, 5):
            while n % f == 0:
                n //= f
        return n == 1

    for n in range(1, 400):
        m = fast_len(n)
        assert m >= n and smooth(m) and not any(smooth(k) for k in range(n, m))


def test_tensor_lru_keeps_the_recent_within_its_byte_budget() -> None:
    from degrade._linear import TensorLRU

    cache = TensorLRU(max_bytes=3 * 400)  # three (10, 10) float32 tensors
    made: list[int] = []

    def make(i: int):
        def f() -> torch.Tensor:
            made.append(i)
            return torch.full((10, 10), float(i))

        return f

    for i in range(3):
        cache.get(i, make(i))
    assert float(cache.get(0, make(0))[0, 0]) == 0.0 and made == [0, 1, 2]  # a hit
    cache.get(3, make(3))  # over budget: the least recently used (1) goes
    assert len(cache) == 3
    cache.get(1, make(1))
    assert made == [0, 1, 2, 3, 1]
    cache.get(0, make(0))  # still there: 2, the least recently used, made room for 1
    assert made == [0, 1, 2, 3, 1]


def test_gpu_resize_round_trips_of_random_scales_stay_cached() -> None:
    """All ~900 round trips of random scales at 224 px fit the default budget."""
    from degrade._linear import ROUNDTRIP_CACHE_BYTES
    from degrade.ops.resize import MODES

    per_operator = 224 * 224 * 4
    distinct = len({round(224 * s / 1000) for s in range(150, 1501)}) * len(MODES)
    assert distinct * per_operator <= ROUNDTRIP_CACHE_BYTES


def test_zoom_blur_gpu_form_in_chunks_of_samples_equals_one_chunk(
    photos: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Samples with different numbers of zooms (3, 10 and 12 here) sum the same in any chunking."""
    import degrade.ops.blur as blur
    from degrade._checks import forced_gpu_path

    zoom, step = torch.tensor([1.05, 1.2, 1.35]), torch.tensor([0.02, 0.02, 0.03])
    with forced_gpu_path():
        whole = blur.zoom_blur(photos, zoom, step)
        monkeypatch.setattr(blur, "ZOOM_CHUNK_VALUES", 2 * photos[0].numel())  # 2 samples
        torch.testing.assert_close(blur.zoom_blur(photos, zoom, step), whole, atol=1e-6, rtol=0)
        monkeypatch.setattr(blur, "ZOOM_CHUNK_VALUES", 1)  # one sample a chunk
        torch.testing.assert_close(blur.zoom_blur(photos, zoom, step), whole, atol=1e-6, rtol=0)
    cpu = blur.zoom_blur(photos, zoom, step)  # OpenCV's resizes
    torch.testing.assert_close(cpu, whole, atol=1e-5, rtol=0)
    assert [n for _, n in blur._zoom_crops_per_sample(photos, zoom, step)] == [3, 10, 12]


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_zoom_blur_runs_of_equal_zooms_give_each_sample_its_own_result(
    photos: torch.Tensor, dtype: torch.dtype
) -> None:
    # samples with the same zooms run as one stack of planes, 4 interleaved at a time:
    # a group straddles samples 0 and 1 (and 2 and 3)
    import degrade.ops.blur as blur

    x = photos.repeat(2, 1, 1, 1)[:5]
    x = (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x
    zoom, step = [1.21, 1.21, 1.31, 1.31, 1.11], [0.02, 0.02, 0.03, 0.03, 0.01]
    y = blur.zoom_blur(x, zoom, step)
    for i in range(5):
        alone = blur.zoom_blur(x[i : i + 1], zoom[i], step[i])
        assert float((y[i : i + 1].float() - alone.float()).abs().max()) <= 1e-6, i


def test_zoom_crops_are_imagenet_c_zooms() -> None:
    # ImageNet-C's np.arange(1, stop, step) per severity, float quirks included: severity 1
    # ends at 1.11 (12 zooms), 3 at 1.20 (11); float32 values of the levels give the same
    from degrade.ops.blur import zoom_crops

    spec = degrade.get_op("zoom_blur")
    for s in range(5):
        stop, step = (float(torch.tensor(p.levels[s])) for p in spec.params)
        crops, n = zoom_crops(224, 224, stop, step)
        zs = np.arange(1, [1.11, 1.16, 1.21, 1.26, 1.31][s], [0.01, 0.01, 0.02, 0.02, 0.03][s])
        assert n == len(zs) == [12, 16, 11, 13, 11][s]
        assert len(crops) == n - 1  # z = 1 counts as the image itself
        for (top, left, ch, cw, oh, ow), z in zip(crops, zs[1:], strict=True):
            assert ch == cw == math.ceil(224 / z) and top == left == (224 - ch) // 2
            assert oh == ow == round(ch * z) >= 224
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(degrade.ops.zoom_blur(x, 1.21), degrade.ops.zoom_blur(x, 1.21, 0.02))


@pytest.mark.parametrize("decoder", ["simplejpeg", "opencv"])
@pytest.mark.parametrize("channels", [1, 3])
def test_cpu_jpeg_equals_torchvision_libjpeg(
    photos: torch.Tensor, channels: int, decoder: str, monkeypatch
) -> None:
    """OpenCV's encode and simplejpeg's decode (CPU form; OpenCV's decode without simplejpeg)
    give the very levels of torchvision's libjpeg round trip (the form they replace, run by
    the GPU path), uint8 and float, at per-sample qualities, on a channels-last crop whose
    size is no multiple of the 16 px block."""
    pytest.importorskip("cv2")
    from degrade import _cv
    from degrade._checks import forced_gpu_path

    if decoder == "opencv":
        monkeypatch.setattr(_cv, "simplejpeg_module", lambda: None)
    else:
        assert _cv.simplejpeg_module() is not None  # a dependency: the decoder that runs

    x = photos[:, :channels, 1:62, 5:88].contiguous(memory_format=torch.channels_last)
    quality = torch.tensor([5, 50, 95])
    with forced_gpu_path():
        ref = degrade.ops.jpeg(x, quality)
    y = _cv.jpeg(x, quality.tolist())
    assert torch.equal(y, ref) and _cv.is_clamped(y)
    u8 = x.mul(255).round().to(torch.uint8)
    assert torch.equal(_cv.jpeg(u8, quality.tolist()), ref.mul(255).round().to(torch.uint8))


def test_defocus_one_fft_filter_equals_disc_then_gaussian(photos: torch.Tensor) -> None:
    """The CPU defocus blur's single kernel (disc convolved with its Gaussian, by FFT) gives
    the disc filter followed by the Gaussian, each with reflect-101 borders (OpenCV, which
    pads the intermediate image itself), for float32 and uint8; so does the op's CPU form,
    which takes the FFT for large discs only (here 10, not 1 and 4)."""
    from degrade import _cv
    from degrade._cpu_filters import fft_filter_images
    from degrade.ops import blur

    radius = torch.tensor([1.0, 4.0, 10.0])
    values = list(zip(blur._disc_sizes(radius), radius.tolist(), strict=True))
    two_steps = [blur._disc_support(k, r) for k, r in values]
    one = [blur._defocus_kernel(k, r) for k, r in values]
    assert [k.shape[-1] for k in one] == [s[0].shape[-1] + 4 for s in two_steps]
    assert [blur._by_fft(k, r, 64) for k, r in values] == [False, False, True]
    ref = _cv.filter2d_then_blur(photos, two_steps, blur.DEFOCUS_ALIAS_SIGMA)
    for y in (fft_filter_images(photos, one), blur._defocus_blur_cpu(photos, radius)):
        assert _cv.is_clamped(y)
        torch.testing.assert_close(y, ref, atol=2e-6, rtol=0)
    u8 = (photos * 255).round().to(torch.uint8)
    ref8 = _cv.filter2d_then_blur(u8, two_steps, blur.DEFOCUS_ALIAS_SIGMA)
    for y8 in (fft_filter_images(u8, one), blur._defocus_blur_cpu(u8, radius)):
        assert y8.dtype == torch.uint8 and int((y8.int() - ref8.int()).abs().max()) <= 1


def test_cpu_gaussian_blur_stays_in_unit_range_without_a_clamp(photos: torch.Tensor) -> None:
    """The float OpenCV Gaussian marks its result clamped without clamping: its taps are
    scaled so that values in [0, 1] cannot round above 1 (with the plain taps, all-ones
    images come out at 1 + 2^-23 for some sigma), and it stays the plain-taps result."""
    from degrade import _cv

    ones = torch.ones(2, 3, 64, 80)
    near = 1 - torch.rand(2, 3, 64, 80) * 1e-6
    for s in [0.05, 1 / 3, 1.0, 2.0, 3.5, 5.5, 6.0]:
        sigma = torch.full((2,), s)
        radius = _cv.blur_radius(sigma)
        for x in (ones, near, photos[:2]):
            y = _cv.gaussian_blur(x, sigma.tolist(), radius, clamp=True)
            assert _cv.is_clamped(y) and 0 <= float(y.min()) and float(y.max()) <= 1, s
            plain = _cv.gaussian_blur(x, sigma.tolist(), radius).clamp(0, 1)
            torch.testing.assert_close(y, plain, atol=6e-6, rtol=0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_snow_cuts_its_kernels_on_the_smallest_images_as_the_gpu_form(dtype: torch.dtype) -> None:
    """At 8 x 8 a reflect border gives 15 taps at most: the longest flakes' kernel is cut (to
    13 taps) and renormalised in every form, so the CPU forms draw the GPU form's layer. A
    dark image, so that the layer is not clipped away."""
    from degrade._checks import forced_gpu_path
    from degrade.ops.weather import snow

    x = torch.full((8, 3, 8, 8), 0.2)
    x = (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x
    kw = {
        "amount": torch.full((8,), 0.8),
        "angle": torch.full((8,), -90.0),
        "seed": torch.arange(8),
    }
    with forced_gpu_path():
        batch = snow(x, **kw)
    error = (snow(x, **kw).float() - batch.float()).abs()
    assert float(error.max()) <= (1 if dtype == torch.uint8 else 1e-5)


@pytest.mark.parametrize("op", degrade.list_ops())
def test_ops_ignore_torchs_default_dtype(op: str, photos: torch.Tensor) -> None:
    """Draws and buffers are float32 whatever ``torch.get_default_dtype()``: with float64 as
    the default, the CPU and GPU forms give the result they give under float32."""
    from degrade._checks import forced_gpu_path

    _, params = degrade.apply(photos, op, level=torch.tensor([1, 3, 5]), return_params=True)
    spec = degrade.get_op(op)
    usual = spec.run(photos, params)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cpu = spec.run(photos, params)
        with forced_gpu_path():
            batch = spec.run(photos, params)
    finally:
        torch.set_default_dtype(default)
    assert cpu.dtype == batch.dtype == torch.float32
    assert float((cpu - usual).abs().max()) <= 2e-3, op
    assert float((batch - usual).abs().max()) <= 2e-3, op
