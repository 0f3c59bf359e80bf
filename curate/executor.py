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
        _connect(ray, params)
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


#: what to do when a cluster refuses or cannot be reached: with token authentication (the
#: default of ``ray start --head`` in current Ray) a driver without the cluster's token is
#: refused, and Ray reports that only as a failed connection after its retries
RAY_AUTH_HINT = (
    "if the cluster uses token authentication, give this process the cluster's token "
    "(RAY_AUTH_MODE=token with RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, e.g. the head's "
    "~/.ray/auth_token); else start the cluster and this process with the same RAY_AUTH_MODE"
)


def _connect(ray: Any, params: CurateParams) -> None:
    """``ray.init`` on ``params.address`` (or a local cluster of ``params.workers`` CPUs).

    Raises:
        ValueError: one line naming the address and what to do, when the cluster cannot be
            reached or refuses this process's authentication.
    """
    kwargs: dict[str, Any] = {"address": params.address} if params.address else {}
    if params.workers and not params.address:
        kwargs["num_cpus"] = params.workers
    where = f"ray cluster at {params.address}" if params.address else "local ray cluster"
    try:
        ray.init(ignore_reinit_error=True, log_to_driver=False, **kwargs)
    except getattr(ray.exceptions, "AuthenticationError", ()) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        raise ValueError(f"{where}: {reason.rstrip('.')}; {RAY_AUTH_HINT}") from None
    except ConnectionError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ValueError(
            f"{where}: cannot connect ({reason}); check that the address is the head's "
            f"GCS address (ip:port printed by ray start --head) and, {RAY_AUTH_HINT}"
        ) from None
