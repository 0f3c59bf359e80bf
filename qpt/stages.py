"""Stage kinds by name, imported lazily (``qpt --help`` must not import torch).

Each kind maps to ``(module, params model, run function, one-line help)``; the module lives in
the package of its pipeline stage (``curate``, ``train``, ``bench``), never in ``qpt``.
Tests and plugins may add kinds with :func:`register_stage`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from qpt.stage import StageContext

StageFn = Callable[[StageContext, Any], dict]


@dataclass(frozen=True)
class StageKind:
    """Where a stage kind lives: ``module:params_model`` and ``module:run_function``."""

    name: str
    module: str
    params: str
    run: str
    help: str

    def load(self) -> tuple[type[BaseModel], StageFn]:
        """Import the kind's module and return ``(params model, run function)``.

        Raises:
            ValueError: the module is not built (yet) or lacks the named objects.
        """
        try:
            mod = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == self.module or self.module.startswith(exc.name + ".")):
                raise ValueError(
                    f"stage kind '{self.name}' is not available: module {self.module} is not built"
                ) from None
            raise
        try:
            return getattr(mod, self.params), getattr(mod, self.run)
        except AttributeError as exc:
            raise ValueError(f"stage kind '{self.name}': {exc}") from None


_KINDS: dict[str, StageKind] = {}


def register_stage(kind: StageKind) -> None:
    """Make a stage kind usable in ``pipelines.toml`` (replaces one of the same name)."""
    _KINDS[kind.name] = kind


def get_stage(name: str) -> StageKind:
    """The stage kind called ``name``; ``ValueError`` listing the known ones otherwise."""
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise ValueError(f"unknown stage kind '{name}' (known: {known})") from None


def list_stages() -> list[StageKind]:
    """Every registered stage kind, sorted by name."""
    return [_KINDS[k] for k in sorted(_KINDS)]


for _kind in (
    StageKind(
        "corpus",
        "curate.sources.builtin_stage",
        "CorpusParams",
        "run_corpus",
        "write the built-in corpus of real package photos (no download)",
    ),
    StageKind(
        "curate",
        "curate.stage",
        "CurateParams",
        "run_curate",
        "filter and deduplicate a source into a manifest",
    ),
    StageKind(
        "shard",
        "curate.stage",
        "ShardParams",
        "run_shard",
        "pack the kept images into WebDataset shards",
    ),
    StageKind(
        "degrade",
        "degrade.stage",
        "DegradeParams",
        "run_degrade",
        "degrade a folder of images with a preset, recording every parameter",
    ),
    StageKind(
        "pretrain",
        "train.stage",
        "PretrainParams",
        "run_pretrain",
        "masked-image-modelling pretraining on degraded shards",
    ),
    StageKind(
        "bench",
        "bench.stage",
        "BenchParams",
        "run_bench",
        "score a backbone on quality/aesthetics benchmarks",
    ),
    StageKind(
        "finetune",
        "bench.fit_stage",
        "FinetuneParams",
        "run_finetune",
        "fit a scorer (linear or fine-tuned head) and save it as a scorer folder",
    ),
    StageKind(
        "score",
        "bench.score_stage",
        "ScoreParams",
        "run_score",
        "score a folder or the run's shards with a scorer; contact sheet of best and worst",
    ),
    StageKind(
        "ablation_report",
        "bench.ablation",
        "AblationReportParams",
        "run_ablation_report",
        "one table and figures comparing the pretrain variants of a run",
    ),
):
    register_stage(_kind)
