"""Stage ``finetune``: fit a scorer into the stage folder (the folder is the scorer).

``qpt score PATH -m runs/<pipeline>/<stage>`` uses it. The backbone is
``<pretrain stage>/export`` unless ``checkpoint`` names one (any spec of
:func:`bench.backbones.parse_backbone`, or ``stage:NAME`` for an earlier pretrain stage).

Example ``pipelines.toml`` table::

    [[pipeline.demo.stage]]
    kind = "finetune"
    dataset = "synthetic"       # or livec, koniq, ... (qpt bench list), or a path,score CSV
    checkpoint = "handcrafted"  # default: the pretrain stage's export
    head = "linear"             # or finetune
"""

from __future__ import annotations

from bench.fit_stage import FinetuneParams
from qpt.stage import StageContext

__all__ = ["FinetuneParams", "run_finetune"]


def run_finetune(ctx: StageContext, params: FinetuneParams) -> dict:
    """Fit on ``params.dataset`` from the pretrain stage's export (or ``checkpoint``).

    Raises:
        ValueError: ``stage:NAME`` names no earlier stage, no pretrain stage and no
            ``checkpoint``, or anything :func:`bench.fit_stage.fit_scorer_folder` refuses.
    """
    from bench.backbones import parse_backbone
    from bench.fit_stage import fit_scorer_folder

    spec = params.checkpoint or str(ctx.input_of("pretrain") / "export")
    backbone = None
    if spec.startswith("stage:"):
        stage = spec.removeprefix("stage:")
        if stage not in ctx.inputs:
            raise ValueError(f"finetune: '{spec}' names no earlier stage")
        backbone = parse_backbone(str(ctx.inputs[stage] / "export"), name=stage)
    return fit_scorer_folder(
        params.model_copy(update={"checkpoint": spec}),
        ctx.out_dir,
        seed=ctx.seed,
        console=ctx.console,
        backbone=backbone,
    )
