"""The speed benchmark's per-image OpenCV/PIL loop does the same chain as ``degrade``: its
reference ops cover both presets and agree with ours on deterministic ops (no timing here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import degrade
from qpt.speed.degrade_speed import REFERENCE, photo_batch, reference_loop

PRESET_OPS = sorted(set(degrade.list_ops("kadid")) | set(degrade.presets.QPT_OPS))


def test_reference_covers_presets() -> None:
    assert set(PRESET_OPS) <= set(REFERENCE)


def _loop_psnr(x: torch.Tensor, op: str, params: list[dict]) -> float:
    y = degrade.get_op(op).run(x, params)
    ref = np.stack(reference_loop(x, [{"ops": [{"op": op, **p}]} for p in params]))
    mse = float(np.mean((y.permute(0, 2, 3, 1).numpy() - ref) ** 2))
    return 10 * np.log10(1 / max(mse, 1e-12))


@pytest.mark.parametrize(
    "op",
    [
        o
        for o in PRESET_OPS
        if o != "resize" and not any(p.kind == "seed" for p in degrade.get_op(o).params)
    ],
)
def test_reference_matches_degrade(op: str) -> None:
    x = photo_batch(2, size=96)
    _, params = degrade.apply(
        x, op, level=3, generator=torch.Generator().manual_seed(0), return_params=True
    )
    psnr = _loop_psnr(x, op, params)
    assert psnr >= 40, f"{op}: loop and degrade differ ({psnr:.1f} dB)"


@pytest.mark.parametrize(("mode", "floor"), [("bilinear", 80), ("bicubic", 80), ("area", 35)])
@pytest.mark.parametrize("scale", [0.3, 0.7, 1.3])
def test_reference_resize_is_the_same_operator(mode: str, floor: float, scale: float) -> None:
    """Shrinking bilinear / bicubic is antialiased on both sides (Pillow in the loop): the
    same operator. ``area`` is torch's adaptive pooling against OpenCV's exact-coverage
    INTER_AREA, which differ slightly for non-integer factors."""
    x = photo_batch(2, size=96)
    psnr = _loop_psnr(x, "resize", [{"scale": scale, "mode": mode}] * 2)
    assert psnr >= floor, f"resize {mode} x{scale}: loop and degrade differ ({psnr:.1f} dB)"


def test_per_op_times_every_reference_op_and_reports_worst_first() -> None:
    """``qpt bench speed degrade --per-op``: one row per op with a reference, its ratio the
    loop's time over the batched time (no timing threshold asserted)."""
    from qpt.speed.degrade_speed import per_op, report_per_op

    res = per_op("cpu", batch=2, repeats=1)
    assert set(res["ops"]) == set(REFERENCE)
    for r in res["ops"].values():
        assert r["ratio"] == pytest.approx(r["batched_img_s"] / r["loop_img_s"])
    lines = report_per_op(res).splitlines()[1:]
    ratios = [float(line.rsplit("ratio", 1)[1].strip().rstrip("x")) for line in lines]
    assert len(ratios) == len(REFERENCE) and ratios == sorted(ratios)


def test_rows_leave_jpeg2000_out_of_kadid_and_report_it_alone_on_cuda() -> None:
    """The CUDA target covers ``kadid`` without JPEG2000 (no GPU codec); on CUDA JPEG2000 is
    a row of its own. The rows are built without a device."""
    from qpt.speed.degrade_speed import NO_JPEG2000, pipelines, run

    assert list(pipelines("cpu")) == ["qpt-v2", "kadid", NO_JPEG2000]
    assert list(pipelines("cuda:0")) == ["qpt-v2", "kadid", NO_JPEG2000, "jpeg2000"]
    x = photo_batch(48, size=32)
    _, params = degrade.Degrader(pipelines("cpu")[NO_JPEG2000])(x, torch.Generator().manual_seed(0))
    drawn = {step["op"] for p in params for step in p["ops"]}
    assert "jpeg2000" not in drawn and drawn <= set(degrade.list_ops("kadid"))
    assert len(drawn) >= 12  # one of the other 24 ops per image, not a fixed few
    res = run("cpu", batch=2, repeats=1)
    assert list(res["presets"]) == ["qpt-v2", "kadid", NO_JPEG2000]
    for r in res["presets"].values():
        assert r["ratio"] == pytest.approx(r["batched_img_s"] / r["loop_img_s"])
