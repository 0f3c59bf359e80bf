"""Stage kinds by name: each is a parameter model (from its library) and a run function (here).

The adapters are plain imports; each imports its library's heavy modules (torch, ...) inside
its run function, so importing this package stays cheap. Tests and plugins may add kinds with
:func:`register_stage`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from qpt.stage import StageContext
from qpt.stages import ablation_report, bench, corpus, curate, degrade, finetune, pretrain, score

StageFn = Callable[[StageContext, Any], dict]


@dataclass(frozen=True)
class StageKind:
    """A stage kind: its name, parameter model, run function and one-line help.

    ``all_ranks``: under torchrun every rank runs it (DDP pretraining); other kinds run on
    rank 0 alone while the other ranks wait.
    """

    name: str
    params: type[BaseModel]
    run: StageFn
    help: str
    all_ranks: bool = False

    @property
    def module(self) -> str:
        """Where the run function lives (shown by ``qpt run --list-stages``)."""
        return self.run.__module__


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
        corpus.CorpusParams,
        corpus.run_corpus,
        "write the built-in corpus of real package photos (no download)",
    ),
    StageKind(
        "curate",
        curate.CurateParams,
        curate.run_curate,
        "filter and deduplicate a source into a manifest",
    ),
    StageKind(
        "shard",
        curate.ShardParams,
        curate.run_shard,
        "pack the kept images into WebDataset shards",
    ),
    StageKind(
        "degrade",
        degrade.DegradeParams,
        degrade.run_degrade,
        "degrade a folder of images with a preset, recording every parameter",
    ),
    StageKind(
        "pretrain",
        pretrain.PretrainParams,
        pretrain.run_pretrain,
        "masked-image-modelling pretraining on degraded shards",
        all_ranks=True,
    ),
    StageKind(
        "bench",
        bench.BenchParams,
        bench.run_bench,
        "score a backbone on quality/aesthetics benchmarks",
    ),
    StageKind(
        "finetune",
        finetune.FinetuneParams,
        finetune.run_finetune,
        "fit a scorer (linear or fine-tuned head) and save it as a scorer folder",
    ),
    StageKind(
        "score",
        score.ScoreParams,
        score.run_score,
        "score a folder or the run's shards with a scorer; contact sheet of best and worst",
    ),
    StageKind(
        "ablation_report",
        ablation_report.AblationReportParams,
        ablation_report.run_ablation_report,
        "one table and figures comparing the pretrain variants of a run",
    ),
):
    register_stage(_kind)
