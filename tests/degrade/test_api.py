"""The public API other packages code against: Degrader, presets, apply, replay, checks."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest
import torch

import degrade

PRESETS = ["qpt-v2", "realesrgan", "kadid", "imagenet-c"]


def test_presets_and_ops_listed() -> None:
    assert set(PRESETS) <= set(degrade.list_presets())
    ops = degrade.list_ops()
    assert {"gaussian_blur", "gaussian_noise", "jpeg", "resize", "sharpen", "color_jitter"} <= set(
        ops
    )
    assert ops == sorted(ops)


@pytest.mark.parametrize("preset", PRESETS)
def test_degrader_shape_dtype_replay(preset: str, photos: torch.Tensor) -> None:
    d = degrade.Degrader(preset)
    g = torch.Generator().manual_seed(1)
    y, params = d(photos, generator=g)
    assert y.shape == photos.shape and y.dtype == photos.dtype
    assert len(params) == len(photos)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    params = json.loads(json.dumps(params))  # JSON-serialisable, and replay survives it
    assert torch.equal(d.replay(photos, params), y)
    assert any(p["ops"] for p in params)
    for p in params:
        assert p["preset"] == preset
        for step in p["ops"]:
            assert step["op"] in degrade.list_ops()


def test_degrader_deterministic_per_generator(photos: torch.Tensor) -> None:
    d = degrade.Degrader("qpt-v2")
    y1, p1 = d(photos, generator=torch.Generator().manual_seed(5))
    y2, p2 = d(photos, generator=torch.Generator().manual_seed(5))
    y3, p3 = d(photos, generator=torch.Generator().manual_seed(6))
    assert torch.equal(y1, y2) and p1 == p2
    assert p1 != p3


def test_degrader_uint8_and_grey(photos: torch.Tensor) -> None:
    d = degrade.Degrader("qpt-v2")
    u8 = (photos * 255).round().to(torch.uint8)
    y, params = d(u8, generator=torch.Generator().manual_seed(0))
    assert y.dtype == torch.uint8 and y.shape == u8.shape
    assert torch.equal(d.replay(u8, params), y)
    grey = photos.mean(1, keepdim=True)
    yg, pg = d(grey, generator=torch.Generator().manual_seed(0))
    assert yg.shape == grey.shape
    colour_ops = {n for n in degrade.list_ops() if degrade.get_op(n).color}
    assert not colour_ops & {s["op"] for p in pg for s in p["ops"]}


def test_degrader_per_sample_params_differ(photo: torch.Tensor) -> None:
    x = photo.expand(8, -1, -1, -1)[..., :64, :64].contiguous()
    y, params = degrade.Degrader("kadid")(x, generator=torch.Generator().manual_seed(0))
    assert len({json.dumps(p) for p in params}) == 8
    assert not torch.equal(y[0], y[1])


def test_replay_of_one_sample_matches(photos: torch.Tensor) -> None:
    """A sample's output depends only on its own params, not on the rest of the batch."""
    d = degrade.Degrader("qpt-v2")
    y, params = d(photos, generator=torch.Generator().manual_seed(3))
    for i in range(len(photos)):
        yi = d.replay(photos[i : i + 1], params[i : i + 1])
        torch.testing.assert_close(yi[0], y[i], atol=1e-5, rtol=0)


def test_apply_levels(photos: torch.Tensor) -> None:
    g = torch.Generator().manual_seed(0)
    y = degrade.apply(photos, op="gaussian_blur", level=3, generator=g)
    assert y.shape == photos.shape
    y2, params = degrade.apply(
        photos, op="gaussian_blur", level=torch.tensor([1, 3, 5]), return_params=True
    )
    assert [p["sigma"] for p in params] == [0.5, 2.0, 5.5]
    torch.testing.assert_close(y2[1], y[1])


@pytest.mark.parametrize(
    "x, match",
    [
        (torch.rand(3, 32, 32), "shape"),
        (torch.rand(1, 4, 32, 32), "channels"),
        (torch.rand(0, 3, 32, 32), "empty"),
        (torch.full((1, 3, 32, 32), float("nan")), "NaN"),
        (torch.rand(1, 3, 32, 32) * 2, r"\[0, 1\]"),
        (torch.rand(1, 3, 4, 4), "too small"),
        (torch.randint(0, 9, (1, 3, 32, 32)), "dtype|uint8"),
    ],
)
def test_bad_input_raises(x: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        degrade.Degrader("qpt-v2")(x)
    with pytest.raises(ValueError, match="gaussian_blur"):
        degrade.apply(x, "gaussian_blur", level=1)


@pytest.mark.parametrize(
    "value, valid",
    [
        (0.0, True),
        (-0.0, True),
        (1.0, True),
        (1.0000001, False),
        (-1e-30, False),
        (float("nan"), False),
        (-float("nan"), False),
        (float("inf"), False),
    ],
)
def test_the_bit_pattern_range_check_agrees_with_the_exact_one(value: float, valid: bool) -> None:
    """The one-max fast path of the float range check accepts exactly what the value
    compares do (-0.0 reaches them through its fallback)."""
    from degrade._checks import check_batch, in_unit_range

    x = torch.rand(2, 3, 16, 16)
    x[1, 2, 5, 7] = value
    if valid:
        check_batch(x, "op")
    else:
        assert not in_unit_range(x)
        with pytest.raises(ValueError, match="NaN|in \\[0, 1\\]"):
            check_batch(x, "op")
    assert in_unit_range(x) == (valid and str(value) != "-0.0")


def test_bad_arguments_raise(photos: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="unknown op"):
        degrade.apply(photos, "nope", level=1)
    with pytest.raises(ValueError, match="1..5"):
        degrade.apply(photos, "jpeg", level=6)
    with pytest.raises(ValueError, match="levels for a batch"):
        degrade.apply(photos, "jpeg", level=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="unknown preset"):
        degrade.Degrader("nope")
    with pytest.raises(ValueError, match="unknown parameter"):
        degrade.apply(photos, "jpeg", level=1, qualty=3)
    with pytest.raises(ValueError, match="params"):
        degrade.Degrader("qpt-v2").replay(photos, [{"ops": []}])
    with pytest.raises(ValueError, match="needs 3-channel"):
        degrade.apply(photos[:, :1], "color_jitter", level=1)


def test_import_isolation() -> None:
    code = (
        "import sys, degrade, degrade.ops; "
        "names = ('curate', 'train', 'bench', 'qpt', 'cv2', 'scipy'); "
        "bad = [m for m in names if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_degrader_batch_and_size_extremes() -> None:
    d = degrade.Degrader("qpt-v2")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 3, 64, 64)
    y, params = d(x, generator=g)
    assert y.shape == x.shape and len(params) == 256
    big = torch.rand(1, 3, 512, 384)
    yb, pb = d(big, generator=g)
    assert yb.shape == big.shape
    assert torch.equal(d.replay(big, pb), yb)


@pytest.mark.parametrize("dtype", [torch.float32, torch.uint8])
def test_degrader_chunking_does_not_change_results(photos: torch.Tensor, dtype) -> None:
    """Chunks convert a uint8 batch to float and back one at a time: the same bytes as the
    whole batch converted at once."""
    x = photos.repeat(6, 1, 1, 1)
    x = (x * 255).round().to(torch.uint8) if dtype == torch.uint8 else x
    g = torch.Generator().manual_seed(4)
    y1, p = degrade.Degrader("qpt-v2", chunk=3)(x, generator=g)
    y2 = degrade.Degrader("qpt-v2", chunk=64).replay(x, p)
    assert y1.dtype == y2.dtype == dtype
    tolerance = 1 if dtype == torch.uint8 else 1e-5  # batch calls round floats by ~1e-6
    assert float((y1.float() - y2.float()).abs().max()) <= tolerance


@pytest.mark.parametrize("preset", ["qpt-v2", "kadid"])
def test_degrader_workers_do_not_change_results(photos: torch.Tensor, preset: str) -> None:
    x = photos.repeat(4, 1, 1, 1)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # same intra-op threads on both sides: bit-identical
        y1, p = degrade.Degrader(preset, chunk=1, workers=1)(x, torch.Generator().manual_seed(3))
        y3 = degrade.Degrader(preset, chunk=1, workers=3).replay(x, p)
        assert torch.get_num_threads() == 1  # restored after the parallel run
        torch.set_num_threads(2)
        degrade.Degrader(preset, chunk=1, workers=3).replay(x, p)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(y1, y3)


def test_degrader_worker_errors_reach_the_caller(photos: torch.Tensor) -> None:
    params = [{"ops": [{"op": "gaussian_blur", "level": 1, "sigma": 1.0}]} for _ in range(3)]
    params[2]["ops"][0]["sigma"] = float("nan")
    with pytest.raises(ValueError, match="gaussian_blur: 'sigma' contains NaN"):
        degrade.Degrader(chunk=1, workers=2).replay(photos, params)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        degrade.Degrader(workers=0)


def test_host_ops_get_their_values_on_the_cpu() -> None:
    """Ops registered with host=True build per-sample tensors on the host; the others get
    theirs on the pixels' device (a meta batch stands in for a GPU one)."""
    x = torch.empty(2, 3, 32, 32, device="meta")
    rng = random.Random(0)
    host = {n for n in degrade.list_ops() if degrade.get_op(n).host}
    assert {"gaussian_blur", "sharpen", "resize", "color_jitter", "color_space_transform"} <= host
    for name in ("color_jitter", "gaussian_blur", "gaussian_noise"):
        spec = degrade.get_op(name)
        kw = spec.canonical([spec.sample(rng, 3) for _ in range(2)], x)
        floats = [kw[p.name] for p in spec.params if p.kind not in ("choice", "seed")]
        want = "cpu" if spec.host else "meta"
        assert floats and all(v.device.type == want for v in floats), name


def test_custom_pipeline_tree(photos: torch.Tensor) -> None:
    tree = degrade.Seq(
        (
            degrade.Op("gaussian_blur", level=2),
            degrade.OneOf((degrade.Op("jpeg", level=5), degrade.Op("pixelate", level=5)), p=1.0),
            degrade.Repeat(degrade.Op("gaussian_noise", level=1), times=(2, 2)),
        )
    )
    y, params = degrade.Degrader(tree)(photos, generator=torch.Generator().manual_seed(0))
    for p in params:
        names = [s["op"] for s in p["ops"]]
        assert names[0] == "gaussian_blur" and names[1] in ("jpeg", "pixelate")
        assert names[2:] == ["gaussian_noise", "gaussian_noise"]
    with pytest.raises(ValueError, match="level"):
        degrade.Degrader(degrade.Op("jpeg", level=7))
    with pytest.raises(ValueError, match="unknown op"):
        degrade.Degrader(degrade.Seq((degrade.Op("nope"),)))


def test_severity_tables_replace_an_ops_levels(photos: torch.Tensor) -> None:
    """``Op(levels=...)``: the value at each level comes from the node's table (``fixed``
    still wins), is recorded, and replays; a bad table is refused when the tree is built."""
    table = (30, 25, 20, 15, 10)
    tree = degrade.Op("jpeg", level=(1, 5), levels={"quality": table})
    y, params = degrade.Degrader(tree)(photos, generator=torch.Generator().manual_seed(0))
    for p in params:
        (step,) = p["ops"]
        assert step["quality"] == table[step["level"] - 1]
    assert torch.equal(degrade.Degrader(tree).replay(photos, params), y)
    pinned = degrade.Op("jpeg", level=2, fixed={"quality": 50}, levels={"quality": table})
    _, params = degrade.Degrader(pinned)(photos)
    assert {p["ops"][0]["quality"] for p in params} == {50}
    for bad, match in [
        (degrade.Op("jpeg", levels={"quality": table}), "need a level"),
        (degrade.Op("jpeg", level=1, levels={"quality": (30, 25)}), "5 values"),
        (degrade.Op("jpeg", level=1, levels={"quality": (300, 25, 20, 15, 10)}), "5 values"),
        (degrade.Op("jpeg", level=1, levels={"qualty": table}), "unknown parameter"),
    ]:
        with pytest.raises(ValueError, match=match):
            degrade.Degrader(bad)


def test_degrader_and_modules_pickle(photos: torch.Tensor) -> None:
    """DataLoader workers (spawn) need picklable degraders and modules."""
    import pickle

    import degrade.ops

    d = pickle.loads(pickle.dumps(degrade.Degrader("realesrgan")))
    y, p = d(photos, generator=torch.Generator().manual_seed(0))
    assert torch.equal(degrade.Degrader("realesrgan").replay(photos, p), y)
    m = pickle.loads(pickle.dumps(degrade.ops.GaussianBlur(level=2)))
    torch.testing.assert_close(m(photos), degrade.ops.gaussian_blur(photos, 1.0))


def test_rescale_keeps_new_size(photos: torch.Tensor) -> None:
    from degrade.ops import rescale

    y = rescale(photos, 0.5, "area")
    assert y.shape == (3, 3, 32, 48)
    torch.testing.assert_close(y, torch.nn.functional.avg_pool2d(photos, 2))
    with pytest.raises(ValueError, match="rescale"):
        rescale(photos, 0.0)
    with pytest.raises(ValueError, match="mode"):
        rescale(photos, 0.5, "lanczos")


def test_ops_reachable_after_import_degrade_alone() -> None:
    """``import degrade`` alone makes ``degrade.ops`` usable, in a fresh interpreter."""
    code = (
        "import torch, degrade; "
        "y = degrade.ops.gaussian_blur(torch.rand(1, 3, 16, 16), sigma=1.0); "
        "print(tuple(y.shape), degrade.ops.GaussianBlur.__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 3, 16, 16) GaussianBlur"
