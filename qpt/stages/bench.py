"""Stage ``bench``: score the pretrained backbone (and its random-init twin).

The backbone is ``<pretrain stage>/export`` unless ``checkpoint`` names one (any spec of
:func:`bench.backbones.parse_backbone`, or ``stage:NAME`` for an earlier pretrain stage). The
random-init baseline of the same architecture always runs beside it.

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "bench"
    datasets = ["all"]          # synthetic + every benchmark found under data_root
    n_splits = 3
    max_items = 200
"""

from __future__ import annotations

from bench.params import BenchParams
from qpt.stage import StageContext

__all__ = ["BenchParams", "run_bench", "summary_of"]


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


def _backbones(ctx: StageContext, params: BenchParams) -> list:
    """The checkpoint's backbone, its random-init twin and the extra rows, names unique."""
    from bench.backbones import parse_backbone, random_init_like

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
    return backbones


def run_bench(ctx: StageContext, params: BenchParams) -> dict:
    """Run the benchmarks and write ``results.json``, ``results.md``, ``results.png``.

    Raises:
        ValueError: bad parameters, no pretrain stage and no ``checkpoint``, a checkpoint whose
            config does not match its weights, or no dataset could run.
        FileNotFoundError: checkpoint or data root missing.
    """
    from bench.params import make_config
    from bench.report import print_table, write_reports
    from bench.runner import run_suite

    backbones = _backbones(ctx, params)
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
