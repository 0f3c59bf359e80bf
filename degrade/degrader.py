"""The Degrader: a preset or pipeline tree applied to batches, with replayable parameters."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from torch import Tensor

from degrade._checks import (
    check_batch,
    check_grad,
    check_size,
    gpu_path,
    to_float,
)
from degrade._threads import one_intraop_thread
from degrade.compose import Node, execute, plan, validate
from degrade.presets import get_preset
from degrade.registry import get_op, pipeline_result, sample_rngs

#: values per chunk on CPU: one 3 x 224 x 224 image (0.6 MB stays in cache; no gathers)
CPU_CHUNK_VALUES = 3 * 224 * 224
#: default cap on CPU worker threads: the ops' Python side holds the GIL about half the time,
#: so 2 workers help a little and many workers were slower than one
MAX_DEFAULT_WORKERS = 2


class Degrader:
    """Degrade batches with a named preset or a pipeline tree (:mod:`degrade.compose`).

    Args:
        pipeline: a preset name (:func:`~degrade.list_presets`) or a :data:`~degrade.compose.Node`.

    Calling it returns ``(y, params)``: ``y`` has the shape, dtype and device of ``x``;
    ``params`` holds one JSON-serialisable dict per sample,
    ``{"preset": name, "ops": [{"op": ..., "level": ..., <values>}, ...]}`` in the order the
    ops were applied. :meth:`replay` reproduces ``y`` exactly from ``params``.

    Grey (1-channel) batches never draw RGB-only ops (colour jitter, saturation, ...).

    ``chunk``: samples processed together (default on CPU: one 224 px image, or more smaller
    ones, where per-image steps beat gathering same-op groups since an image stays in cache;
    the whole batch on CUDA).
    Outputs do not depend on it beyond float rounding; :meth:`replay` uses the same chunks.

    ``workers``: on CPU (only), chunks run on this many threads at once (default
    ``min(torch.get_num_threads(), MAX_DEFAULT_WORKERS)``), each with one intra-op thread:
    torch releases the GIL inside its ops, and whole images in parallel beat splitting each
    small op. Outputs are the same for any count (all randomness is seeded per sample).

    Example:
        >>> d = Degrader("qpt-v2")
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.rand(4, 3, 64, 64)
        >>> y, params = d(x, generator=g)
        >>> y.shape, len(params)
        (torch.Size([4, 3, 64, 64]), 4)
        >>> torch.equal(d.replay(x, params), y)
        True
    """

    def __init__(
        self, pipeline: str | Node = "qpt-v2", chunk: int | None = None, workers: int | None = None
    ) -> None:
        if chunk is not None and chunk < 1:
            raise ValueError(f"Degrader: chunk must be >= 1, got {chunk}")
        if workers is not None and workers < 1:
            raise ValueError(f"Degrader: workers must be >= 1, got {workers}")
        self.chunk, self.workers = chunk, workers
        self.name = pipeline if isinstance(pipeline, str) else "custom"
        self.pipeline = get_preset(pipeline) if isinstance(pipeline, str) else pipeline
        validate(self.pipeline)

    def __call__(
        self, x: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, list[dict[str, Any]]]:
        """Degrade ``x`` (B, C, H, W) float in [0, 1] or uint8; returns (y, per-sample params)."""
        check_batch(x, f"Degrader({self.name})")
        check_grad(x, f"Degrader({self.name})", differentiable=False)
        color = x.shape[1] == 3
        plans = [plan(self.pipeline, r, color) for r in sample_rngs(x.shape[0], generator)]
        self._check_sizes(x, plans)
        return self._run(x, plans), [{"preset": self.name, "ops": p} for p in plans]

    def _run(self, x: Tensor, plans: list[list[dict[str, Any]]]) -> Tensor:
        n = self.chunk or (x.shape[0] if gpu_path(x) else max(1, CPU_CHUNK_VALUES // x[0].numel()))
        if n >= x.shape[0]:
            xf = to_float(x)
            return pipeline_result(execute(xf, plans), xf, x.dtype)
        # chunks write into one preallocated output of x's dtype: no concatenation, and a
        # uint8 batch goes to float and back chunk by chunk, in cache (not as two batch-sized
        # float copies)
        out = torch.empty_like(x)

        def run(i: int) -> None:
            xf = to_float(x[i : i + n])
            out[i : i + n] = pipeline_result(execute(xf, plans[i : i + n]), xf, x.dtype)

        starts = range(0, x.shape[0], n)
        workers = self.workers or min(torch.get_num_threads(), MAX_DEFAULT_WORKERS)
        workers = min(len(starts), workers)
        if workers <= 1 or x.device.type != "cpu":
            for i in starts:
                run(i)
        else:
            with one_intraop_thread(), ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, starts))  # list(): re-raises the first op error here
        return out

    def replay(self, x: Tensor, params: list[dict[str, Any]]) -> Tensor:
        """Apply recorded ``params`` (from a call, possibly via JSON) to ``x``: the same output."""
        check_batch(x, f"Degrader({self.name}).replay")
        check_grad(x, f"Degrader({self.name}).replay", differentiable=False)
        if len(params) != x.shape[0]:
            raise ValueError(f"replay: {len(params)} params for a batch of {x.shape[0]}")
        plans = []
        for i, p in enumerate(params):
            if not isinstance(p, dict) or not isinstance(p.get("ops"), list):
                raise ValueError(f"replay: params[{i}] has no 'ops' list")
            for s in p["ops"]:
                spec = get_op(s.get("op", ""))
                missing = [q.name for q in spec.params if q.name not in s]
                if missing:
                    raise ValueError(f"replay: params[{i}] op {spec.name} lacks {missing}")
            plans.append(p["ops"])
        self._check_sizes(x, plans)
        return self._run(x, plans)

    @staticmethod
    def _check_sizes(x: Tensor, plans: list[list[dict[str, Any]]]) -> None:
        names = {s["op"] for p in plans for s in p}
        for n in names:
            spec = get_op(n)
            check_size(x, n, spec.min_size)  # values were checked once for the whole batch
            if spec.color and x.shape[1] != 3:
                raise ValueError(f"{n}: needs 3-channel RGB input, got {x.shape[1]} channel(s)")

    def __repr__(self) -> str:
        return f"Degrader({self.name!r})"
