"""One device resolver for every package (``auto``, ``cpu``, ``cuda``, ``cuda:N``)."""

from __future__ import annotations

import torch


def resolve_device(pref: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``.

    >>> resolve_device("cpu")
    device(type='cpu')

    Raises:
        ValueError: CUDA asked for but not available, or an unknown device string.
    """
    if pref == "auto":
        pref = "cuda" if torch.cuda.is_available() else "cpu"
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device '{pref}': CUDA is not available on this machine")
        return torch.device(pref if ":" in pref else f"cuda:{local_rank}")
    try:
        return torch.device(pref)
    except RuntimeError:
        raise ValueError(f"unknown device '{pref}' (use auto, cpu, cuda or cuda:N)") from None
