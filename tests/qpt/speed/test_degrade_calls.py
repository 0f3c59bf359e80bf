"""The GPU-path cost counter (qpt/speed/degrade_calls.py): counts what it says it counts."""

from __future__ import annotations

import torch

import degrade
import degrade._checks
from qpt.speed import degrade_calls as calls


def test_one_op_pipeline_counts_one_call_and_its_kernels() -> None:
    """A blur on every sample: one call, one copy of the taps, the two 1-D passes of the
    grouped convolution on the device, no sync; the taps themselves are built on the host."""
    d = degrade.Degrader(degrade.Op("gaussian_blur", level=3))
    x = torch.rand(4, 3, 32, 32).as_subclass(calls.OnDevice)
    calls.TALLY = calls._Tally()
    with calls.gpu_path_on_cpu():
        d.replay(x, [{"ops": [{"op": "gaussian_blur", "level": 3, "sigma": 2.0}]}] * 4)
    t = calls.TALLY.total
    assert t["calls"] == 1 and t["copies"] == 1 and t["syncs"] == 1  # the input check
    assert t["kernels"] >= 3  # pad, conv along W, conv along H (and the clamp)
    assert t["host_ops"] >= 1
    assert degrade._checks.FORCE_GPU_PATH is False  # restored


def test_a_host_read_of_a_device_value_is_a_sync() -> None:
    x = torch.rand(3).as_subclass(calls.OnDevice)
    calls.TALLY = calls._Tally()
    with calls.gpu_path_on_cpu():
        x.tolist()
        (x * 2).max().item()
        torch.tensor([1.0]).to(x.device)
    assert calls.TALLY.total["syncs"] == 2 and calls.TALLY.total["copies"] == 1


def test_joint_forms_show_as_fewer_calls_for_qpt_v2() -> None:
    r = calls.count("qpt-v2", batch=16, size=32, seeds=2)
    assert r["calls"] == sum(c["calls"] for c in r["by_call"].values())
    assert any("+" in name for name in r["by_call"])  # mixed blur/sharpen or colour calls
    assert r["syncs"] == 1  # only the batch check: no per-op device reads
