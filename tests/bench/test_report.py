"""Reports: NaN correlations become null / n/a, and every row reaches the table and chart."""

from __future__ import annotations

import json
import math

from bench.metrics import summarize
from bench.report import to_markdown, write_reports


def _results() -> dict:
    rows = [
        {"srcc": 0.5, "plcc": 0.4, "krcc": 0.3, "rmse": 1.0},
        {"srcc": math.nan, "plcc": math.nan, "krcc": math.nan, "rmse": 2.0},
    ]
    entry = {
        "dataset": "toy", "task": "iqa", "head": "linear", "protocol": "random 80%/20% x 2",
        "n_train": 8, "n_test": 2, "splits": rows, "summary": summarize(rows),
    }  # fmt: skip
    return {
        "config": {"heads": ["linear"], "fit": "none", "max_items": None,
                   "inputs": {"crops": 1, "mode": "crops", "frames": 4}},
        "datasets": {"toy": {"task": "iqa", "higher_better": False, "n_used": 10, "n_total": 12,
                             "n_missing": 2, "n_unreadable": 1}},
        "results": [{**entry, "backbone": "pretrained"}, {**entry, "backbone": "random_init"}],
        "missing": [{"name": "ava", "layout": "ava (AVA): AVA.txt ..."}],
        "errors": [{"dataset": "kadid", "error": "kadid: dmos.csv not found"}],
    }  # fmt: skip


def test_nan_is_null_in_json_and_counted_in_markdown(tmp_path):
    paths = write_reports(_results(), tmp_path)
    data = json.loads(paths["json"].read_text())  # strict JSON: no NaN token
    assert data["results"][0]["splits"][1]["srcc"] is None
    assert "NaN" not in paths["json"].read_text()
    md = to_markdown(_results())
    assert md.count("| toy |") == 2 and "(3 NaN split-metrics)" in md
    assert "2 listed but missing on disk" in md and "1 unreadable (skipped)" in md
    assert "lower is better" in md and "kadid: dmos.csv not found" in md and "AVA.txt" in md
    assert paths["png"].stat().st_size > 1000


def _row(backbone: str, dataset: str, srcc: list[float]) -> dict:
    splits = [{"srcc": v, "plcc": v, "krcc": v, "rmse": 1.0} for v in srcc]
    summary = summarize(splits)
    return {"backbone": backbone, "dataset": dataset, "head": "linear", "summary": summary}


def test_differences_say_whether_they_exceed_the_split_std():
    from bench.report import differences

    results = {
        "results": [
            _row("pretrained", "noisy", [0.1, 0.5, 0.3]),  # mean 0.3, std 0.163
            _row("random_init", "noisy", [0.4, 0.4, 0.4]),
            _row("pretrained", "tight", [0.61, 0.60, 0.59]),
            _row("random_init", "tight", [0.40, 0.41, 0.39]),
            _row("pretrained", "official", [0.7]),  # one split: no spread to compare with
            _row("random_init", "official", [0.2]),
        ]
    }
    noisy, tight = differences(results)
    assert noisy.startswith("noisy (linear): pretrained - random_init = -0.100 SRCC")
    assert "split std 0.163" in noisy and "does not exceed the split std" in noisy
    assert tight.startswith("tight (linear): pretrained - random_init = +0.200 SRCC")
    assert "the difference exceeds the split std" in tight


def test_markdown_and_terminal_table_say_it_in_words():
    from io import StringIO

    from rich.console import Console

    from bench.report import print_table

    results = _results()
    base = {k: v for k, v in results["results"][0].items() if k not in ("splits", "summary")}
    results["results"] = [
        {**base, **_row("pretrained", "toy", [0.61, 0.60, 0.59]), "splits": [{}] * 3},
        {**base, **_row("random_init", "toy", [0.40, 0.41, 0.39]), "splits": [{}] * 3},
    ]
    sentence = "toy (linear): pretrained - random_init = +0.200 SRCC"
    md = to_markdown(results)
    assert "## Differences against the split-to-split spread" in md
    assert f"- {sentence}" in md and "the difference exceeds the split std." in md
    out = StringIO()
    print_table(results, Console(file=out, width=200))
    assert sentence in out.getvalue() and "exceeds the split std" in out.getvalue()
