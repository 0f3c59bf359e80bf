"""qpt: the command line and the pipeline runner (thin glue; the science is in the stages).

``from qpt import Scorer`` gives :class:`bench.scorer.Scorer`, imported on first use so that
``import qpt`` (and ``qpt --help``) does not import torch.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["Scorer", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Scorer":
        from bench.scorer import Scorer

        return Scorer
    raise AttributeError(f"module 'qpt' has no attribute {name!r}")
