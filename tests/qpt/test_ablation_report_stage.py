"""The ablation report reads what the pretrain and bench stages wrote and tabulates it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.ablation import AblationReportParams, build_table
from qpt.stage import StageContext
from qpt.stages.ablation_report import run_ablation_report


def _summary(mean: float) -> dict:
    stats = {"median": mean, "mean": mean, "std": 0.01, "n": 5, "n_nan": 0}
    return {"srcc": stats, "plcc": {**stats, "mean": mean + 0.1}}


def _pretrain_dir(root: Path, name: str, losses: list[float]) -> Path:
    path = root / name
    path.mkdir()
    lines = [json.dumps({"step": 10 * (i + 1), "loss": v}) for i, v in enumerate(losses)]
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    (path / "_stage.json").write_text(json.dumps({"seconds": 12.5}))
    return path


def _bench_dir(root: Path) -> Path:
    path = root / "bench"
    path.mkdir()
    rows = [
        {"backbone": b, "dataset": "livec", "head": "linear", "summary": _summary(m)}
        for b, m in (("pt_a", 0.5), ("pt_b", 0.3), ("random_init", 0.1), ("handcrafted", 0.4))
    ]
    (path / "results.json").write_text(json.dumps({"results": rows}))
    return path


def test_report_tabulates_every_row_with_pretraining_figures(tmp_path: Path) -> None:
    inputs = {
        "pt_a": _pretrain_dir(tmp_path, "pt_a", [1.0, 0.8, 0.6]),
        "pt_b": _pretrain_dir(tmp_path, "pt_b", [1.0, 0.9]),
        "bench": _bench_dir(tmp_path),
    }
    kinds = {"pt_a": "pretrain", "pt_b": "pretrain", "bench": "bench"}
    out = tmp_path / "report"
    out.mkdir()
    ctx = StageContext("abl", "report", "ablation_report", tmp_path, out, inputs, kinds)
    params = AblationReportParams(labels={"pt_a": "variant A"})
    summary = run_ablation_report(ctx, params)
    assert summary["variants"] == 2 and summary["rows"] == 4
    text = (out / "ablation.md").read_text()
    row_a = next(line for line in text.splitlines() if line.startswith("| pt_a "))
    assert "variant A" in row_a and "| 30 |" in row_a and "0.800" in row_a  # mean of 3 losses
    assert "0.500 ± 0.010" in row_a and "0.600 ± 0.010" in row_a
    assert "pt_a - random_init = +0.400 SRCC" in text and "exceeds the split std" in text
    row_random = next(line for line in text.splitlines() if line.startswith("| random_init "))
    assert "| – | – |" in row_random
    for png in ("variants.png", "loss_curves.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG"


def test_report_without_bench_results_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bench").mkdir()
    ctx = StageContext(
        "abl", "report", "ablation_report", tmp_path, tmp_path,
        {"bench": tmp_path / "bench"}, {"bench": "bench"},
    )  # fmt: skip
    with pytest.raises(ValueError, match="results.json not found"):
        run_ablation_report(ctx, AblationReportParams())


def test_table_has_one_column_pair_per_dataset_and_head() -> None:
    rows = [
        {"backbone": "x", "dataset": d, "head": h, "summary": _summary(0.2)}
        for d in ("livec", "synthetic")
        for h in ("linear", "finetune")
    ]
    header = build_table({"results": rows}, {}, {}).splitlines()[0]
    assert header.count("SRCC") == 4 and header.count("PLCC") == 4
