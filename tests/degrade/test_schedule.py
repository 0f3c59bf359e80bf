"""The call schedule of a batch of per-sample plans: complete, in each sample's order, short."""

from __future__ import annotations

import pytest
import torch

import degrade
from degrade.compose import plan, schedule
from degrade.registry import sample_rngs


def _plans(preset: str, b: int, seed: int = 0) -> list[list[dict]]:
    tree = degrade.get_preset(preset)
    return [plan(tree, r, True) for r in sample_rngs(b, torch.Generator().manual_seed(seed))]


@pytest.mark.parametrize("preset", ["qpt-v2", "realesrgan", "kadid"])
@pytest.mark.parametrize("b", [1, 7, 64])
def test_schedule_runs_every_step_once_in_order(preset: str, b: int) -> None:
    plans = _plans(preset, b)
    seen: dict[int, list[int]] = {i: [] for i in range(b)}
    for name, steps in schedule(plans):
        assert len({i for i, _ in steps}) == len(steps)  # a sample at most once per call
        for i, k in steps:
            assert plans[i][k]["op"] == name
            seen[i].append(k)
    assert all(seen[i] == list(range(len(plans[i]))) for i in range(b))


def test_schedule_groups_across_positions_for_random_orders() -> None:
    """qpt-v2 orders ops at random per sample; grouping by position alone needs a call per
    (position, op), the greedy schedule far fewer."""
    plans = _plans("qpt-v2", 64)
    depth = max(len(p) for p in plans)
    by_position = sum(len({p[k]["op"] for p in plans if k < len(p)}) for k in range(depth))
    assert len(schedule(plans)) < 0.8 * by_position


def test_schedule_of_empty_plans_is_empty() -> None:
    assert schedule([[], []]) == []
