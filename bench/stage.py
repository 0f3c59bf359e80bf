"""Pipeline stage ``bench``: score the pretrained backbone (and its random-init twin).

The backbone is ``<pretrain stage>/export`` unless ``checkpoint`` names one (any spec of
:func:`bench.backbones.parse_backbone`). The random-init baseline of the same architecture
always runs beside it. Defaults are sized for the default pipeline on 2 CPU cores (a few
minutes): linear probe only, 3 splits, at most 200 samples per dataset, one crop.

Example ``pipelines.toml`` table::

    [[pipelines.default.stages]]
    name = "bench"
    kind = "bench"
    datasets = ["all"]          # synthetic + every benchmark found under data_root
    n_splits = 3
    max_items = 200
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qpt.stage import StageContext


class BenchParams(BaseModel):
    """Parameters of the ``bench`` stage (and of ``qpt bench``)."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(
        None,
        description="backbone spec, or 'stage:NAME' for the export of an earlier pretrain "
        "stage; default: the pretrain stage's export folder",
    )
    checkpoint_name: str | None = Field(
        None, description="row label of the checkpoint (default: 'pretrained', or NAME)"
    )
    extra_backbones: list[str] = Field(
        [],
        description="more rows, e.g. 'handcrafted', 'stage:NAME' or 'timm:resnet50=FILE'",
    )
    datasets: list[str] = Field(["all"], description="names, or 'all' (synthetic + found ones)")
    data_root: str | None = Field(
        "auto", description="folder holding the releases; 'auto' = ../shared/data if present"
    )
    heads: list[Literal["linear", "finetune"]] = ["linear"]
    n_splits: int = Field(3, ge=1, le=100, description="random 80/20 splits (no official split)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    max_items: int | None = Field(200, ge=10, description="cap per dataset (seeded subset)")
    crops: int = Field(1, ge=1, le=64, description="native-resolution crops per image at test")
    input_mode: Literal["crops", "resize"] = "crops"
    frames: int = Field(4, ge=1, le=256, description="frames sampled per video")
    batch_size: int = Field(32, ge=1)
    fit: Literal["none", "logistic4"] = "none"
    allow_partial: bool = False
    finetune_epochs: int = Field(3, ge=1)
    finetune_lr: float = Field(2e-4, gt=0.0)
    finetune_batch_size: int = Field(16, ge=1)
    layer_decay: float = Field(0.75, gt=0.0, le=1.0)
    synthetic_photos: str = Field("builtin", description="'builtin' or a folder of photos")
    synthetic_n_photos: int | None = Field(6, ge=2)
    synthetic_max_ops: int | None = Field(4, ge=1)
    synthetic_ops: list[str] | None = None
    synthetic_size: int = Field(256, ge=64)
    device: str = Field("cpu", description="'cpu', 'cuda', 'cuda:1' or 'auto'")


def default_data_root() -> Path | None:
    """``../shared/data`` next to the working directory or the repository, if present."""
    for base in (Path.cwd(), Path(__file__).resolve().parents[1]):
        candidate = (base / ".." / "shared" / "data").resolve()
        if candidate.is_dir():
            return candidate
    return None


def make_config(params: BenchParams, seed: int = 0):
    """The :class:`bench.runner.BenchConfig` for ``params``."""
    from bench.features import InputConfig
    from bench.finetune import FinetuneConfig
    from bench.runner import BenchConfig, SyntheticConfig
    from qpt_base.device import resolve_device

    if params.data_root == "auto":
        data_root = default_data_root()
    elif params.data_root is None:
        data_root = None
    else:
        data_root = Path(params.data_root)
        if not data_root.is_dir():
            raise FileNotFoundError(f"bench: data root {data_root} not found")
    return BenchConfig(
        datasets=list(params.datasets),
        data_root=data_root,
        heads=tuple(params.heads),
        n_splits=params.n_splits,
        test_fraction=params.test_fraction,
        seed=seed,
        max_items=params.max_items,
        fit=params.fit,
        allow_partial=params.allow_partial,
        strict="all" not in params.datasets,
        device=str(resolve_device(params.device)),
        inputs=InputConfig(params.crops, params.input_mode, params.frames, params.batch_size),
        finetune=FinetuneConfig(
            params.finetune_epochs,
            params.finetune_batch_size,
            params.finetune_lr,
            params.layer_decay,
            seed=seed,
        ),
        synthetic=SyntheticConfig(
            params.synthetic_photos,
            params.synthetic_n_photos,
            tuple(params.synthetic_ops) if params.synthetic_ops else None,
            params.synthetic_max_ops,
            params.synthetic_size,
        ),
    )


def summary_of(results: dict) -> dict:
    """Flat ``name -> value`` pairs for the end-of-stage table (nested data stays in JSON)."""
    out: dict = {
        "datasets_run": len(results["datasets"]),
        "datasets_missing": len(results["missing"]),
        "errors": len(results["errors"]),
    }
    for r in results["results"]:
        key = f"{r['dataset']}/{r['backbone']}/{r['head']}"
        out[f"{key}/srcc"] = round(r["summary"]["srcc"]["median"], 4)
        out[f"{key}/plcc"] = round(r["summary"]["plcc"]["median"], 4)
    out["seconds"] = results.get("seconds")
    return out


def run_bench(ctx: StageContext, params: BenchParams) -> dict:
    """Run the benchmarks and write ``results.json``, ``results.md``, ``results.png``.

    Raises:
        ValueError: bad parameters, no pretrain stage and no ``checkpoint``, a checkpoint whose
            config does not match its weights, or no dataset could run.
        FileNotFoundError: checkpoint or data root missing.
    """
    from bench.backbones import parse_backbone, random_init_like
    from bench.report import print_table, write_reports
    from bench.runner import run_suite

    def resolve(spec: str, name: str | None = None):
        # ``stage:NAME`` is the export of an earlier pretrain stage of this pipeline.
        if spec.startswith("stage:"):
            stage = spec.removeprefix("stage:")
            if stage not in ctx.inputs:
                raise ValueError(
                    f"bench: '{spec}' names no earlier stage (earlier: {', '.join(ctx.inputs)})"
                )
            return parse_backbone(str(ctx.inputs[stage] / "export"), name=name or stage)
        return parse_backbone(spec, name=name)

    spec = params.checkpoint or str(ctx.input_of("pretrain") / "export")
    label = params.checkpoint_name or (None if spec.startswith("stage:") else "pretrained")
    pretrained = resolve(spec, name=label)
    backbones = [pretrained, random_init_like(pretrained, seed=ctx.seed + 1)]
    backbones += [resolve(spec) for spec in params.extra_backbones]
    names = [b.name for b in backbones]
    if len(set(names)) != len(names):
        raise ValueError(f"bench: backbone names must be unique, got {names}")
    results = run_suite(backbones, make_config(params, ctx.seed), ctx.out_dir, ctx.console)
    write_reports(results, ctx.out_dir)
    if not ctx.json_mode:
        print_table(results, ctx.console)
    if not results["results"]:
        why = [f"{e['dataset']}: {e['error']}" for e in results["errors"]]
        why += [f"{m['name']} not found" for m in results["missing"] if m["name"] != "*"]
        where = results["config"]["data_root"] or "no data root"
        raise ValueError(
            f"bench: no dataset could run under {where} ({'; '.join(why) or 'nothing asked'}); "
            "`qpt bench list` shows the expected layouts"
        )
    return summary_of(results)
