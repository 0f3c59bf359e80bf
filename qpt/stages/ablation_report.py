"""Stage ``ablation_report``: one table and two figures comparing the pretrain variants of a run.

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "ablation_report"    # after the pretrain stages and a bench stage
    [pipeline.demo.stage.labels]
    pt_qpt = "the full recipe"
"""

from __future__ import annotations

from bench.ablation import AblationReportParams
from qpt.stage import StageContext

__all__ = ["AblationReportParams", "run_ablation_report"]


def run_ablation_report(ctx: StageContext, params: AblationReportParams) -> dict:
    """Write ``ablation.md``, ``variants.png`` and ``loss_curves.png`` into ``ctx.out_dir``.

    Reads the bench stage's ``results.json`` and every earlier pretrain stage's metrics.

    Raises:
        ValueError: no bench stage before this one, or it has no ``results.json``.
    """
    from bench.ablation import write_ablation_report

    bench_dir = ctx.inputs[params.bench] if params.bench else ctx.input_of("bench")
    pretrain_dirs = {
        name: path for name, path in ctx.inputs.items() if ctx.kinds.get(name) == "pretrain"
    }
    table, summary = write_ablation_report(
        bench_dir, pretrain_dirs, ctx.out_dir, params, ctx.pipeline
    )
    if not ctx.json_mode:
        ctx.console.print(table)
    return summary
