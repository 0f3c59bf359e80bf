"""Public hooks for profilers: watch every scheduled op call of a pipeline.

A *watcher* is a callable that takes the sorted op names of one call and returns a context
manager; the call runs inside it. With no watcher registered a call costs one list check.

>>> import contextlib, torch, degrade
>>> seen = []
>>> @contextlib.contextmanager
... def note(ops):
...     seen.append(ops)
...     yield
>>> with watch_calls(note):
...     _ = degrade.Degrader("kadid")(torch.rand(2, 3, 32, 32), generator=torch.manual_seed(0))
>>> len(seen) > 0 and all(set(ops) <= set(degrade.list_ops()) for ops in seen)
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

from torch import Tensor

from degrade._checks import forced_gpu_path

Watcher = Callable[[list[str]], AbstractContextManager[Any]]
_WATCHERS: list[Watcher] = []

__all__ = ["forced_gpu_path", "observed_call", "watch_calls"]


@contextmanager
def watch_calls(watcher: Watcher) -> Iterator[None]:
    """Run ``watcher(op_names)`` around every op call made inside the block."""
    _WATCHERS.append(watcher)
    try:
        yield
    finally:
        _WATCHERS.remove(watcher)


def observed_call(
    run: Callable[[Tensor, Sequence[dict[str, Any]]], Tensor],
    x: Tensor,
    values: Sequence[dict[str, Any]],
) -> Tensor:
    """``run(x, values)`` inside every registered watcher (x: (B, C, H, W))."""
    if not _WATCHERS:
        return run(x, values)
    ops = sorted({v["op"] for v in values})
    with ExitStack() as stack:
        for watcher in list(_WATCHERS):
            stack.enter_context(watcher(ops))
        return run(x, values)
