"""One table and two figures for a pretraining ablation (the ``ablation_report`` stage's work).

Reads every pretrain stage folder's ``metrics.jsonl`` and
``_stage.json`` (steps, seconds, final loss) and the bench stage's ``results.json``, and writes:

* ``ablation.md``: per backbone row (each pretrain variant, the random-init twin and any
  extra baseline such as the handcrafted floor), SRCC / PLCC mean +- std over splits for
  every (dataset, head), plus the pretraining figures of each variant;
* ``variants.png``: SRCC per variant with the split-to-split std as error bars;
* ``loss_curves.png``: the training loss of every variant against the step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bench.report import differences


class AblationReportParams(BaseModel):
    """Parameters of the ``ablation_report`` stage.

    Attributes:
        bench: name of the bench stage to read (default: the latest earlier bench stage).
        labels: row label -> what the variant changes (shown in the table).
        metric: the correlation drawn in ``variants.png``.
    """

    model_config = ConfigDict(extra="forbid")

    bench: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    metric: str = "srcc"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pretrain_figures(stage_dir: Path) -> dict[str, Any]:
    """Steps, wall seconds, first and last logged loss of one pretrain stage folder."""
    metrics = _read_jsonl(stage_dir / "metrics.jsonl")
    done = (
        json.loads((stage_dir / "_stage.json").read_text())
        if (stage_dir / "_stage.json").exists()
        else {}
    )
    losses = [m["loss"] for m in metrics if "loss" in m]
    tail = losses[-5:]
    return {
        "steps": metrics[-1]["step"] if metrics else None,
        "seconds": done.get("seconds"),
        "loss_first": losses[0] if losses else None,
        "loss_last5": sum(tail) / len(tail) if tail else None,
        "curve": [(m["step"], m["loss"]) for m in metrics if "loss" in m],
    }


def _fmt(stats: dict[str, Any] | None) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    return f"{stats['mean']:.3f} ± {stats['std']:.3f}"


def build_table(results: dict, pretrain: dict[str, dict], labels: dict[str, str]) -> str:
    """The Markdown table: one row per backbone, one column pair per (dataset, head)."""
    cells: dict[str, dict[tuple[str, str], dict]] = {}
    for row in results["results"]:
        cells.setdefault(row["backbone"], {})[(row["dataset"], row["head"])] = row["summary"]
    columns = sorted({key for per in cells.values() for key in per})
    header = ["variant", "what it is", "pretrain steps", "final loss"]
    for dataset, head in columns:
        header += [f"{dataset} {head} SRCC", f"{dataset} {head} PLCC"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, per in cells.items():
        fig = pretrain.get(name, {})
        loss = fig.get("loss_last5")
        row = [
            name,
            labels.get(name, ""),
            str(fig.get("steps") or "–"),
            f"{loss:.3f}" if loss is not None else "–",
        ]
        for column in columns:
            summary = per.get(column, {})
            row += [_fmt(summary.get("srcc")), _fmt(summary.get("plcc"))]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _plot_variants(results: dict, metric: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
    for row in results["results"]:
        stats = row["summary"].get(metric) or {}
        if stats.get("mean") is not None:
            key = (row["dataset"], row["head"])
            groups.setdefault(key, []).append((row["backbone"], stats["mean"], stats["std"]))
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(6 * max(1, len(groups)), 4.5))
    axes = [axes] if len(groups) <= 1 else list(axes)
    for ax, ((dataset, head), rows) in zip(axes, sorted(groups.items()), strict=False):
        names = [r[0] for r in rows]
        ax.bar(names, [r[1] for r in rows], yerr=[r[2] for r in rows], capsize=4,
               color=["#4c72b0" if n.startswith("pt_") or n == "pretrained" else "#999999"
                      for n in names])  # fmt: skip
        ax.set_title(f"{dataset} ({head}): {metric.upper()} mean ± std over splits")
        ax.tick_params(axis="x", rotation=35)
        ax.axhline(0, color="black", linewidth=0.5)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _plot_losses(pretrain: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, fig_data in pretrain.items():
        if fig_data["curve"]:
            steps, losses = zip(*fig_data["curve"], strict=True)
            ax.plot(steps, losses, label=name, linewidth=1.2)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("masked-patch loss (normalised pixels)")
    ax.set_title("pretraining loss per variant")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def write_ablation_report(
    bench_dir: Path,
    pretrain_dirs: dict[str, Path],
    out_dir: Path,
    params: AblationReportParams,
    title: str,
) -> tuple[str, dict]:
    """Write ``ablation.md``, ``variants.png`` and ``loss_curves.png`` into ``out_dir``.

    Args:
        bench_dir: folder holding the bench stage's ``results.json``.
        pretrain_dirs: pretrain stage name -> its folder (``metrics.jsonl``, ``_stage.json``).
        title: what the table is about (the pipeline's name).

    Returns:
        The markdown table and a flat summary (variants, rows, table path).

    Raises:
        ValueError: ``bench_dir`` has no ``results.json``.
    """
    results_path = bench_dir / "results.json"
    if not results_path.exists():
        raise ValueError(f"ablation_report: {results_path} not found (did the bench stage run?)")
    results = json.loads(results_path.read_text())
    pretrain = {name: pretrain_figures(path) for name, path in pretrain_dirs.items()}
    table = build_table(results, pretrain, params.labels)
    words = "".join(f"- {t}\n" for t in differences(results, params.metric))
    (out_dir / "ablation.md").write_text(
        f"# Ablation: pipeline '{title}'\n\n{table}\n\n"
        "Mean ± std over splits; `–`: not pretrained.\n"
        + (f"\n## Differences against the split-to-split spread\n\n{words}" if words else "")
    )
    _plot_variants(results, params.metric, out_dir / "variants.png")
    _plot_losses(pretrain, out_dir / "loss_curves.png")
    summary = {
        "variants": len(pretrain),
        "rows": len({r["backbone"] for r in results["results"]}),
        "table": str(out_dir / "ablation.md"),
    }
    return table, summary
