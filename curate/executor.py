"""Run the per-unit map: in this process, on a local process pool, or on a Ray cluster.

Results come back to the driver in completion order; the caller persists each one (so a
crash loses at most the units in flight) and orders them by unit index afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from curate.candidate import Unit
from curate.params import CurateParams

Result = tuple[list[dict], Any]


def map_units(
    units: list[Unit], params: CurateParams, fn: Callable[[Unit, CurateParams], Result]
) -> Iterator[tuple[Unit, Result]]:
    """Apply ``fn(unit, params)`` to every unit; yield ``(unit, result)`` as they finish."""
    if not units:
        return
    if params.executor == "ray":
        yield from _ray(units, params, fn)
    elif params.workers <= 1:
        for unit in units:
            yield unit, fn(unit, params)
    else:
        yield from _pool(units, params, fn)


def _pool(units, params, fn) -> Iterator[tuple[Unit, Result]]:
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from qpt_base.process import die_with_parent

    # spawn, not fork: the driver may hold torch/OpenMP threads that fork would deadlock.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=params.workers,
        mp_context=context,
        initializer=die_with_parent,  # a killed driver takes its workers along
        initargs=(os.getpid(),),
    ) as pool:
        futures = {pool.submit(fn, unit, params): unit for unit in units}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _ray(units, params, fn) -> Iterator[tuple[Unit, Result]]:
    try:
        import ray
    except ImportError as exc:
        raise ValueError("executor 'ray' needs ray: pip install 'qpt[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        kwargs: dict[str, Any] = {"address": params.address} if params.address else {}
        if params.workers and not params.address:
            kwargs["num_cpus"] = params.workers
        ray.init(ignore_reinit_error=True, log_to_driver=False, **kwargs)
    try:
        remote = ray.remote(fn)
        refs = {remote.remote(unit, params): unit for unit in units}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            yield refs[done[0]], ray.get(done[0])
    finally:
        if started:
            ray.shutdown()
