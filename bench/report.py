"""Reports of a benchmark run: ``results.json``, ``results.md``, a PNG chart, a terminal table.

The Markdown table has one row per (dataset, backbone, head) with the median and mean +- std
of SRCC and PLCC over splits, plus KRCC and RMSE medians; the paper's published QPT V2 numbers
are added where :data:`PAPER_QPT_V2` knows them, and the ``random_init`` row sits beside the
pretrained one so the gain from pretraining is visible. The chart shows median SRCC per
dataset and row (std as error bars).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from qpt_base.atomic import atomic_write_text

# Published QPT V2 (HiViT-T, full fine-tuning) SRCC / PLCC by dataset, from the paper's tables
# (Xie et al., ACM MM 2024, arXiv:2407.16541). Only numbers checked against the paper belong
# here; a dataset absent from this dict is shown as "n/a", never guessed.
PAPER_QPT_V2: dict[str, tuple[float, float]] = {}


def _fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _cell(stats: dict[str, float]) -> str:
    if stats["n"] > 1:
        return f"{_fmt(stats['median'])} ({_fmt(stats['mean'])} ± {_fmt(stats['std'])})"
    return _fmt(stats["median"])


def differences(results: dict[str, Any], metric: str = "srcc") -> list[str]:
    """One sentence per row against the ``random_init`` row (else the first row) of the same
    dataset and head: the difference of the means over splits, the larger of the two rows'
    split stds, and, in words, whether the difference exceeds that std. Rows with one split
    (an official split) have no split std and are not compared."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results["results"]:
        groups.setdefault((r["dataset"], r["head"]), []).append(r)
    sentences = []
    for (dataset, head), rows in groups.items():
        ref = next((r for r in rows if r["backbone"] == "random_init"), rows[0])
        for r in rows:
            a, b = r["summary"][metric], ref["summary"][metric]
            n = min(a["n"] - a["n_nan"], b["n"] - b["n_nan"])
            if r is ref or n < 2:
                continue
            diff, std = a["mean"] - b["mean"], max(a["std"], b["std"])
            verdict = (
                "exceeds the split std"
                if abs(diff) > std
                else "does not exceed the split std: this benchmark cannot tell them apart"
            )
            sentences.append(
                f"{dataset} ({head}): {r['backbone']} - {ref['backbone']} = {diff:+.3f} "
                f"{metric.upper()} (means over {n} splits); split std "
                f"{std:.3f}; the difference {verdict}."
            )
    return sentences


def to_markdown(results: dict[str, Any]) -> str:
    """The ``results.md`` text."""
    cfg = results["config"]
    lines = [
        "# qpt bench results",
        "",
        f"Heads: {', '.join(cfg['heads'])}; PLCC/RMSE fit: {cfg['fit']}; inputs: "
        f"{cfg['inputs']['crops']} crop(s) ({cfg['inputs']['mode']}), "
        f"{cfg['inputs']['frames']} frames per video. Cells: median (mean ± std) over splits.",
        "",
        "| dataset | protocol | backbone | head | n train/test | SRCC | PLCC | KRCC | RMSE "
        "| paper QPT V2 SRCC/PLCC |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["results"]:
        s = r["summary"]
        paper = PAPER_QPT_V2.get(r["dataset"])
        paper_cell = f"{paper[0]:.3f} / {paper[1]:.3f}" if paper else "n/a"
        nan = sum(s[m]["n_nan"] for m in ("srcc", "plcc", "krcc"))
        flag = f" ({nan} NaN split-metrics)" if nan else ""
        lines.append(
            f"| {r['dataset']} | {r['protocol']} | {r['backbone']} | {r['head']} | "
            f"{r['n_train']}/{r['n_test']} | {_cell(s['srcc'])}{flag} | {_cell(s['plcc'])} | "
            f"{_fmt(s['krcc']['median'])} | {_fmt(s['rmse']['median'])} | {paper_cell} |"
        )
    sentences = differences(results)
    if sentences:
        lines += ["", "## Differences against the split-to-split spread", ""]
        lines += [f"- {t}" for t in sentences]
    lines += ["", "## Datasets", ""]
    for name, info in results["datasets"].items():
        notes = [f"{info['n_used']} of {info['n_total']} used"]
        if info.get("subsampled"):
            notes.append(f"random subset (max_items={cfg['max_items']})")
        if info.get("n_missing"):
            notes.append(f"{info['n_missing']} listed but missing on disk")
        if info.get("n_unreadable"):
            notes.append(f"{info['n_unreadable']} unreadable (skipped)")
        direction = "higher is better" if info["higher_better"] else "lower is better"
        lines.append(f"- **{name}** ({info['task']}, {direction}): {'; '.join(notes)}")
    if results.get("errors"):
        lines += ["", "## Errors", ""]
        lines += [f"- **{e['dataset']}**: {e['error']}" for e in results["errors"]]
    if results.get("missing"):
        lines += ["", "## Not found (expected layout)", "", "```"]
        lines += [m["layout"] for m in results["missing"]]
        lines += ["```"]
    lines += ["", "![SRCC by dataset](results.png)", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> Path:
    """Grouped bars: median SRCC per dataset for each (backbone, head), std as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    datasets = list(dict.fromkeys(r["dataset"] for r in results["results"]))
    series = list(dict.fromkeys((r["backbone"], r["head"]) for r in results["results"]))
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(datasets) + 2), 3.6), dpi=120)
    width = 0.8 / max(1, len(series))
    for j, (backbone, head) in enumerate(series):
        vals, errs = [], []
        for d in datasets:
            row = next(
                (
                    r
                    for r in results["results"]
                    if (r["dataset"], r["backbone"], r["head"]) == (d, backbone, head)
                ),
                None,
            )
            s = row["summary"]["srcc"] if row else {"median": math.nan, "std": 0.0}
            vals.append(s["median"])
            errs.append(0.0 if math.isnan(s["std"]) else s["std"])
        xs = np.arange(len(datasets)) + (j - (len(series) - 1) / 2) * width
        ax.bar(xs, vals, width, yerr=errs, capsize=2, label=f"{backbone} / {head}")
    for d, (sr, _) in PAPER_QPT_V2.items():
        if d in datasets:
            i = datasets.index(d)
            ax.hlines(sr, i - 0.4, i + 0.4, colors="k", linestyles="--", linewidth=1)
    ax.set_xticks(range(len(datasets)), datasets)
    ax.set_ylabel("SRCC (median over splits)")
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
    ax.axhline(0, color="grey", linewidth=0.5)
    if series:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title("qpt bench")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _json_safe(value: Any) -> Any:
    """NaN (undefined correlation) -> ``null``: strict JSON readers reject NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_reports(results: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write ``results.json`` (NaN as ``null``), ``results.md`` and ``results.png`` atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / f"results.{name}" for name in ("json", "md", "png")}
    for name, text in (
        ("json", json.dumps(_json_safe(results), indent=2, default=str)),
        ("md", to_markdown(results)),
    ):
        atomic_write_text(paths[name], text)
    tmp_png = plot(results, out_dir / f".results.tmp-{os.getpid()}.png")
    os.replace(tmp_png, paths["png"])
    return paths


def print_table(results: dict[str, Any], console: Console) -> None:
    """The final table in the terminal (median SRCC / PLCC), then what was missing or failed."""
    table = Table(title="qpt bench (median over splits)")
    for col in ("dataset", "backbone", "head", "splits", "SRCC", "PLCC", "paper SRCC/PLCC"):
        table.add_column(col)
    for r in results["results"]:
        s = r["summary"]
        paper = PAPER_QPT_V2.get(r["dataset"])
        table.add_row(
            r["dataset"],
            r["backbone"],
            r["head"],
            str(len(r["splits"])),
            _fmt(s["srcc"]["median"]),
            _fmt(s["plcc"]["median"]),
            f"{paper[0]:.3f}/{paper[1]:.3f}" if paper else "n/a",
        )
    if results["results"]:
        console.print(table)
    for sentence in differences(results):
        console.print(sentence, highlight=False)
    for m in results.get("missing", []):
        console.print(f"[yellow]not found:[/yellow] {m['layout']}")
    for e in results.get("errors", []):
        console.print(f"[red]error:[/red] {e['dataset']}: {e['error']}")
