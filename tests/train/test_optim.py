"""train.optim: the lr rule, the schedule's values (by hand at the points that matter, and
step for step against timm's cosine scheduler) and the weight-decay groups."""

from __future__ import annotations

import math

import pytest
import torch
from timm.scheduler import CosineLRScheduler
from torch import nn

from train.distributed import DistInfo
from train.models import create_model
from train.optim import make_scheduler, param_groups
from train.trainer import Trainer

from .conftest import tiny_params


def _lrs(steps: int, warmup: int, lr: float, min_lr: float) -> list[float]:
    """The lr each optimiser step 0..steps-1 runs at, then the one after the last step."""
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make_scheduler(opt, steps, warmup, lr, min_lr)
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr()[0])
        assert opt.param_groups[0]["lr"] == out[-1]  # what is reported is what is used
        opt.step()
        sched.step()
    return [*out, sched.get_last_lr()[0]]


def test_warmup_peak_and_cosine_at_the_points_that_matter() -> None:
    peak, floor = 1e-3, 1e-5
    lrs = _lrs(steps=20, warmup=4, lr=peak, min_lr=floor)
    # linear warm-up over 4 steps from peak / 5 ...
    assert lrs[:4] == pytest.approx([2e-4, 4e-4, 6e-4, 8e-4], rel=1e-12)
    # ... the peak at step 4 exactly, and only there
    assert lrs[4] == pytest.approx(peak, rel=1e-12)
    assert [i for i, x in enumerate(lrs) if x == pytest.approx(peak, rel=1e-9)] == [4]
    # then a half-cycle cosine over the 16 remaining steps
    down = (peak - floor) / 2
    assert lrs[5] == pytest.approx(floor + down * (1 + math.cos(math.pi / 16)), rel=1e-12)
    assert lrs[12] == pytest.approx((peak + floor) / 2, rel=1e-12)  # half-way down
    assert lrs[19] == pytest.approx(floor + down * (1 + math.cos(math.pi * 15 / 16)), rel=1e-12)
    assert lrs[20] == pytest.approx(floor, rel=1e-12)  # where the schedule ends
    assert all(a > b for a, b in zip(lrs[4:], lrs[5:], strict=False))


def test_without_warmup_the_first_step_runs_at_the_peak() -> None:
    lrs = _lrs(steps=10, warmup=0, lr=1e-3, min_lr=0.0)
    assert lrs[0] == pytest.approx(1e-3, rel=1e-12)
    assert lrs[5] == pytest.approx(5e-4, rel=1e-12) and lrs[10] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("steps", "warmup", "min_lr"), [(20, 4, 1e-5), (7, 1, 0.0), (10, 0, 1e-4), (300, 20, 0.0)]
)
def test_schedule_matches_timm_cosine_with_warmup_prefix(
    steps: int, warmup: int, min_lr: float
) -> None:
    peak = 2.4e-3
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=peak)
    timm = CosineLRScheduler(
        opt,
        t_initial=steps - warmup,
        lr_min=min_lr,
        warmup_t=warmup,
        warmup_lr_init=peak / (warmup + 1),
        warmup_prefix=True,
        t_in_epochs=False,
    )
    expected = []
    for k in range(steps + 1):
        timm.step_update(k)
        expected.append(opt.param_groups[0]["lr"])
    assert _lrs(steps, warmup, peak, min_lr) == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_peak_lr_is_blr_times_effective_batch_over_256() -> None:
    cpu = DistInfo(0, 1, 0, torch.device("cpu"), False)
    trainer = Trainer(tiny_params(blr=1e-3, batch_size=4, accum_steps=3, warmup_steps=2), cpu)
    assert trainer.effective_batch == 12
    assert trainer.lr == pytest.approx(1e-3 * 12 / 256, rel=1e-12)
    assert trainer.sched.get_last_lr()[0] == pytest.approx(trainer.lr / 3, rel=1e-12)


def test_weight_decay_spares_norms_biases_tokens_and_position_tables() -> None:
    model = create_model("mae_qpt_hivit_nano", img_size=64)  # qpt's variant has a bias table
    decayed, spared = sorted(param_groups(model, 0.05), key=lambda g: -g["weight_decay"])
    assert decayed["weight_decay"] == 0.05 and spared["weight_decay"] == 0.0
    name = {id(p): n for n, p in model.named_parameters()}
    matrices = {name[id(p)] for p in spared["params"] if p.ndim > 1}  # the only exceptions
    assert matrices == {"mask_token", "encoder.rel_pos.relative_position_bias_table"}
    assert all(p.ndim > 1 for p in decayed["params"])  # no norm weight or bias decays
    assert len(decayed["params"]) + len(spared["params"]) == len(list(model.parameters()))
