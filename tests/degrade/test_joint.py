"""Joint forms: a call that mixes blur and sharpen (or colour jitter and colour-space
transform) samples computes what each op computes on its own samples."""

from __future__ import annotations

import contextlib

import pytest
import torch

import degrade
from degrade._checks import forced_gpu_path
from degrade.compose import call_key, plan, schedule
from degrade.registry import Param, register, run_call, sample_rngs

MIXES = {
    "unsharp": ["gaussian_blur", "sharpen", "gaussian_blur", "sharpen", "sharpen", "gaussian_blur"],
    "color_affine": ["color_jitter", "color_space_transform"] * 3,
    "kernel_blur": [
        "iso_gaussian_blur",
        "aniso_gaussian_blur",
        "generalized_gaussian_blur",
        "plateau_blur",
        "sinc_blur",
        "iso_gaussian_blur",
    ],
    "noise": ["gaussian_noise", "gray_gaussian_noise", "poisson_noise", "gray_poisson_noise"] * 2,
}


def _values(ops: list[str], seed: int = 0) -> list[dict]:
    rngs = sample_rngs(len(ops), torch.Generator().manual_seed(seed))
    return [
        {"op": o, "level": None, **degrade.get_op(o).sample(r, None)}
        for o, r in zip(ops, rngs, strict=True)
    ]


@pytest.mark.parametrize("gpu_forms", [False, True])
@pytest.mark.parametrize("joint", list(MIXES))
def test_mixed_call_equals_each_op_on_its_samples(
    joint: str, gpu_forms: bool, photos: torch.Tensor
) -> None:
    ops = MIXES[joint]
    x = photos.repeat(3, 1, 1, 1)[: len(ops)]
    values = _values(ops)
    with forced_gpu_path() if gpu_forms else contextlib.nullcontext():
        y = run_call(x, values)
        for i, v in enumerate(values):
            alone = degrade.get_op(v["op"]).run(x[i : i + 1], [v])
            torch.testing.assert_close(y[i : i + 1], alone, atol=2e-6, rtol=0)
    assert {degrade.get_op(o).call_key for o in ops} == {joint}


def test_blur_in_the_joint_form_is_exactly_the_blur(photos: torch.Tensor) -> None:
    """lerp(start, end, 0) returns start: a blur sample in a mixed call is the blur itself."""
    from degrade.ops.blur import blur_sigma, unsharp

    sigma = torch.tensor([0.7, 1.9, 3.1])
    assert torch.equal(unsharp(photos, sigma, torch.zeros(3)), blur_sigma(photos, sigma))


def test_ops_outside_one_joint_cannot_share_a_call(photos: torch.Tensor) -> None:
    with pytest.raises(ValueError, match="cannot share one call"):
        run_call(photos[:2], _values(["gaussian_blur", "color_jitter"]))


def test_a_joint_member_must_build_on_the_host() -> None:
    from degrade.ops.blur import UNSHARP

    with pytest.raises(TypeError, match="on the host"):
        register(
            "not_registered_device_member",
            [Param("sigma")],
            family="blur",
            joint=(UNSHARP, lambda sigma: {"sigma": sigma}),
        )
    assert "not_registered_device_member" not in degrade.list_ops()


def test_schedule_groups_joint_members() -> None:
    plans = [[{"op": "gaussian_blur"}], [{"op": "sharpen"}], [{"op": "color_jitter"}]]
    assert [k for k, _ in schedule(plans)] == ["gaussian_blur", "sharpen", "color_jitter"]
    assert [k for k, _ in schedule(plans, call_key)] == ["unsharp", "color_affine"]


def test_joint_forms_cut_the_calls_of_a_qpt_v2_batch() -> None:
    tree = degrade.get_preset("qpt-v2")
    by_op, joint = [], []
    for seed in range(10):
        plans = [plan(tree, r, True) for r in sample_rngs(64, torch.Generator().manual_seed(seed))]
        by_op.append(len(schedule(plans)))
        joint.append(len(schedule(plans, call_key)))
    assert sum(joint) <= 0.8 * sum(by_op)


def test_small_images_mix_ops_in_cpu_chunks_and_replay(photos: torch.Tensor) -> None:
    """At 64 x 96 a CPU chunk holds several images, so the CPU path runs mixed calls too."""
    x = photos.repeat(6, 1, 1, 1)
    d = degrade.Degrader("qpt-v2")
    y, params = d(x, generator=torch.Generator().manual_seed(1))
    assert torch.equal(d.replay(x, params), y)
    y1 = degrade.Degrader("qpt-v2", chunk=1).replay(x, params)
    torch.testing.assert_close(y, y1, atol=1e-5, rtol=0)
