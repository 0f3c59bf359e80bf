"""What a batch costs the GPU path of ``degrade``, counted on any machine (no GPU needed).

A GPU degrades a batch of 64 faster than the host can issue the work, so the host's work is
the time: each op call, kernel launch, host-to-device copy and device sync costs about the
same whatever its size. This counts them by running the GPU forms of the ops on CPU tensors
(``degrade.profiling.forced_gpu_path()``), with the batch marked as a device tensor (a tensor
subclass that every result computed from it inherits, as do tensors made on its device):

* ``calls``: scheduled op calls (:func:`degrade.compose.schedule`);
* ``kernels``: aten ops that read or write a device tensor (a launch each on a GPU; views
  excluded);
* ``host_ops``: aten ops on host tensors only (per-sample values, taps, matrices);
* ``copies``: host-to-device copies; ``syncs``: device-to-host reads (each waits for the GPU).

Counts are exact for a seed. Tensors a cache keys by device name (resize matrices) count as
host tensors. Run: ``qpt bench speed degrade-calls [--preset qpt-v2] [--by-call]``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

KINDS = ("calls", "kernels", "host_ops", "copies", "syncs")

#: aten ops that only make views (no kernel on a GPU)
VIEWS = frozenset(
    "view unsqueeze squeeze select expand _unsafe_view slice t unbind permute as_strided "
    "alias transpose detach split split_with_sizes _reshape_alias unfold lift_fresh".split()
)

#: the device of every :class:`OnDevice` tensor: a CPU device told apart by identity, so
#: that tensors the code makes "on x.device" are recognised as device tensors
DEVICE = torch.device("cpu")


class _Tally:
    """Counts in all and per call (keyed by the call's ops, ``gaussian_blur+sharpen``)."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.by_call: dict[str, Counter[str]] = {}
        self.call = ""

    def add(self, what: str) -> None:
        self.total[what] += 1
        if self.call:
            self.by_call.setdefault(self.call, Counter())[what] += 1


TALLY = _Tally()


class OnDevice(torch.Tensor):
    """A CPU tensor standing for one on the GPU; reading it to the host counts as a sync."""

    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return DEVICE

    def tolist(self) -> Any:
        TALLY.add("syncs")
        return super().tolist()

    def item(self) -> Any:
        TALLY.add("syncs")
        return super().item()

    def cpu(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        TALLY.add("syncs")
        return super().cpu(*args, **kwargs).as_subclass(torch.Tensor)


class _Placement(TorchFunctionMode):
    """Tensors made with ``device=x.device`` live on the device; ``.to(x.device)`` of a host
    tensor is a host-to-device copy."""

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if not isinstance(out, torch.Tensor) or isinstance(out, OnDevice):
            return out
        if kwargs.get("device") is DEVICE:
            return out.as_subclass(OnDevice)
        if func is torch.Tensor.to and any(a is DEVICE for a in (*args[1:], *kwargs.values())):
            TALLY.add("copies")
            return out.as_subclass(OnDevice)
        return out


class _Kernels(TorchDispatchMode):
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        if func.overloadpacket.__name__ not in VIEWS:
            tensors = [*args, *(kwargs or {}).values(), out]
            tensors = [t for a in tensors for t in (a if isinstance(a, list | tuple) else [a])]
            TALLY.add("kernels" if any(isinstance(t, OnDevice) for t in tensors) else "host_ops")
        return out


@contextlib.contextmanager
def _tag(ops: list[str]) -> Iterator[None]:
    """Attribute what happens inside one op call to that call's kind."""
    TALLY.call = "+".join(ops)
    TALLY.add("calls")
    try:
        yield
    finally:
        TALLY.call = ""


@contextlib.contextmanager
def gpu_path_on_cpu() -> Iterator[None]:
    """Run the GPU forms of the ops on CPU tensors, counting what a GPU would do."""
    from degrade.profiling import forced_gpu_path, watch_calls

    with forced_gpu_path(), watch_calls(_tag), torch.no_grad(), _Placement(), _Kernels():
        yield


def count(preset: str, batch: int = 64, size: int = 224, seeds: int = 3) -> dict[str, Any]:
    """Mean counts per batch of ``preset`` on (batch, 3, size, size) random images, in all
    (``calls``, ``kernels``, ...) and per call kind (``by_call``: op names -> counts)."""
    import degrade

    global TALLY
    d = degrade.Degrader(preset)
    x = torch.rand(batch, 3, size, size).as_subclass(OnDevice)
    TALLY = _Tally()
    for seed in range(seeds):
        with gpu_path_on_cpu():
            d(x, generator=torch.Generator().manual_seed(seed))
    out: dict[str, Any] = {"preset": preset, "batch": batch, "size": size, "seeds": seeds}
    out.update({k: TALLY.total[k] / seeds for k in KINDS})
    out["by_call"] = {n: {k: c[k] / seeds for k in KINDS} for n, c in TALLY.by_call.items()}
    return out


def _row(name: str, c: dict[str, float]) -> str:
    return (
        f"  {name:40s} {c['calls']:6.1f} {c['kernels']:8.1f} {c['host_ops']:9.1f} "
        f"{c['copies']:7.1f} {c['syncs']:6.1f}"
    )


def report(rows: list[dict[str, Any]], by_call: bool = False) -> str:
    """The counts as a table (with one row per call kind under each preset if ``by_call``)."""
    r0 = rows[0]
    lines = [
        f"degrade GPU path per batch, counted on CPU (batch {r0['batch']} x 3 x {r0['size']} x "
        f"{r0['size']}, mean of {r0['seeds']} seeds)",
        f"  {'preset / call':40s} {'calls':>6s} {'kernels':>8s} {'host ops':>9s} "
        f"{'copies':>7s} {'syncs':>6s}",
    ]
    for r in rows:
        lines.append(_row(r["preset"], r))
        if by_call:
            calls = sorted(r["by_call"].items(), key=lambda kv: -kv[1]["kernels"])
            lines.extend(_row("  " + name, c) for name, c in calls)
    return "\n".join(lines)
