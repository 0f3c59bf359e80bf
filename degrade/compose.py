"""Composition: a pipeline is a small tree of nodes, planned per sample, then run batched.

Nodes (all frozen dataclasses, so presets are plain data):

* :class:`Op` - one registered op with probability ``p`` and a severity (or ranges);
* :class:`Seq` - children in order, or in a random order per sample (``shuffle=True``:
  the QPT V2 "sequential" composition);
* :class:`OneOf` - one child chosen per sample (weighted);
* :class:`Repeat` - a child applied ``k`` times, ``k`` drawn per sample (high-order chains).

Every node has a probability ``p`` of being applied at all (skip). :func:`plan` turns the tree
into one flat list of steps per sample (``{"op": name, "level": l, **values}``);
:func:`execute` runs the plans batched: samples whose next op is the same (or a member of
the same joint form, :class:`~degrade.registry.Joint`) are processed together
(:func:`schedule`), so per-sample orders cost about one call per distinct op and position.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

from torch import Tensor

from degrade._batch import indices_on
from degrade.profiling import observed_call
from degrade.registry import OpSpec, get_op, run_call


@dataclass(frozen=True)
class Op:
    """One op. level: severity, ``(lo, hi)`` severity range, or None (sample from ranges).

    ``fixed`` pins values; ``levels`` replaces the op's own severity tables by another
    collection's (five values per parameter: ImageNet-C's JPEG qualities for ``jpeg``, ...).
    """

    name: str
    p: float = 1.0
    level: int | tuple[int, int] | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    levels: dict[str, tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Seq:
    """Children in order (``shuffle=True``: a random order per sample)."""

    steps: tuple[Node, ...]
    shuffle: bool = False
    p: float = 1.0


@dataclass(frozen=True)
class OneOf:
    """One child per sample, drawn with ``weights`` (uniform if None)."""

    choices: tuple[Node, ...]
    weights: tuple[float, ...] | None = None
    p: float = 1.0


@dataclass(frozen=True)
class Repeat:
    """``node`` applied k times, k uniform in ``times`` (inclusive); high-order degradation."""

    node: Node
    times: tuple[int, int] = (1, 2)
    p: float = 1.0


Node = Union[Op, Seq, OneOf, Repeat]  # noqa: UP007 (used at runtime in isinstance checks)


def validate(node: Node) -> None:
    """Raise ``ValueError`` on unknown ops, bad probabilities, levels or weights."""
    if not 0.0 <= node.p <= 1.0:
        raise ValueError(f"pipeline: p must be in [0, 1], got {node.p}")
    if isinstance(node, Op):
        spec = get_op(node.name)
        lv = node.level
        lo, hi = (lv, lv) if isinstance(lv, int) or lv is None else lv
        if lo is not None and not (1 <= lo <= hi <= 5):
            raise ValueError(f"pipeline: op {node.name}: level must be in 1..5, got {lv}")
        unknown = (set(node.fixed) | set(node.levels)) - {p.name for p in spec.params}
        if unknown:
            raise ValueError(f"pipeline: op {node.name}: unknown parameter(s) {sorted(unknown)}")
        _validate_levels(node, spec)
    elif isinstance(node, Seq):
        for s in node.steps:
            validate(s)
    elif isinstance(node, OneOf):
        if not node.choices:
            raise ValueError("pipeline: OneOf needs at least one choice")
        if node.weights is not None and (
            len(node.weights) != len(node.choices)
            or min(node.weights) < 0
            or sum(node.weights) <= 0
        ):
            raise ValueError("pipeline: OneOf weights must be one non-negative weight per choice")
        for c in node.choices:
            validate(c)
    elif isinstance(node, Repeat):
        if not 0 <= node.times[0] <= node.times[1]:
            raise ValueError(f"pipeline: Repeat times must be 0 <= lo <= hi, got {node.times}")
        validate(node.node)
    else:
        raise ValueError(f"pipeline: unknown node {node!r}")


def _validate_levels(node: Op, spec: OpSpec) -> None:
    """A severity table needs a level to index, five values, each one the op accepts."""
    if node.levels and node.level is None:
        raise ValueError(f"pipeline: op {node.name}: severity tables need a level")
    for p in spec.params:
        table = node.levels.get(p.name)
        if table is None:
            continue
        low, high = p.accepted
        if len(table) != 5 or not all(low <= v <= high for v in table):
            raise ValueError(
                f"pipeline: op {node.name}: {p.name} table needs 5 values in "
                f"[{low:g}, {high:g}], got {list(table)}"
            )


def plan(node: Node, rng: random.Random, color: bool = True) -> list[dict[str, Any]]:
    """The flat list of steps one sample goes through. ``color=False`` never draws RGB-only ops."""
    if rng.random() >= node.p:
        return []
    if isinstance(node, Op):
        spec = get_op(node.name)
        if spec.color and not color:
            return []
        lv = node.level
        level = rng.randint(*lv) if isinstance(lv, tuple) else lv
        values = spec.sample(rng, level, node.fixed, node.levels)
        return [{"op": node.name, "level": level, **values}]
    if isinstance(node, Seq):
        steps = list(node.steps)
        if node.shuffle:
            rng.shuffle(steps)
        return [s for child in steps for s in plan(child, rng, color)]
    if isinstance(node, OneOf):
        (child,) = rng.choices(node.choices, weights=node.weights)
        return plan(child, rng, color)
    k = rng.randint(*node.times)
    return [s for _ in range(k) for s in plan(node.node, rng, color)]


#: one call: its key (an op's name, or its joint's) and the (sample, step) pairs it advances
Round = tuple[str, list[tuple[int, int]]]


def schedule(plans: list[list[dict[str, Any]]], key: Callable[[str], str] = str) -> list[Round]:
    """Order the calls that run ``plans``, respecting each sample's own order.

    ``key`` maps an op name to what a call may group (default: the name itself; the
    :class:`~degrade.Degrader` passes :attr:`~degrade.OpSpec.call_key`, so members of one
    joint form share calls). Samples are independent, so a call may group samples that are
    at different positions of their plans. Two schedules are built and the one with fewer
    calls is kept (each call costs a fixed overhead, which dominates on a GPU):

    * by position: step k of every sample, one call per distinct key (fixed structures such
      as ``realesrgan``);
    * greedy: repeatedly the key that the most samples have next (random orders such as
      ``qpt-v2``, 35 -> 21 calls for 64 samples by op, 14 with joint forms).
    """
    keys = [[key(s["op"]) for s in p] for p in plans]
    depth = max((len(p) for p in keys), default=0)
    by_pos: list[Round] = []
    for k in range(depth):
        groups: dict[str, list[tuple[int, int]]] = {}
        for i, p in enumerate(keys):
            if k < len(p):
                groups.setdefault(p[k], []).append((i, k))
        by_pos.extend(groups.items())
    greedy: list[Round] = []
    pos = [0] * len(keys)
    while len(greedy) < len(by_pos):
        heads: dict[str, list[tuple[int, int]]] = {}
        for i, p in enumerate(keys):
            if pos[i] < len(p):
                heads.setdefault(p[pos[i]], []).append((i, pos[i]))
        if not heads:
            return greedy
        best = max(heads.items(), key=lambda kv: len(kv[1]))
        for i, _ in best[1]:
            pos[i] += 1
        greedy.append(best)
    return by_pos


@functools.cache
def call_key(op: str) -> str:
    """What a call may group ``op`` with: its joint form's name, or its own (cached: the
    schedule asks for every step of every sample)."""
    return get_op(op).call_key


def execute(x: Tensor, plans: list[list[dict[str, Any]]]) -> Tensor:
    """Run per-sample plans on a float batch (B, C, H, W) in the calls of :func:`schedule`;
    returns a new tensor (or ``x`` itself when no sample has a step: ops never write into
    their input)."""
    rounds = schedule(plans, call_key)
    # the sample indices of every partial call, copied to the device in one piece
    subsets = [[i for i, _ in steps] for _, steps in rounds if len(steps) < len(plans)]
    index = iter(indices_on(subsets, x.device) if subsets else [])
    y, owned = x, False
    for _, steps in rounds:
        values = [plans[i][k] for i, k in steps]
        if len(steps) == len(plans):
            y, owned = observed_call(run_call, y, values), True
        else:
            if not owned:
                y, owned = y.clone(), True
            it = next(index)
            y[it] = observed_call(run_call, y[it], values)
    return y
