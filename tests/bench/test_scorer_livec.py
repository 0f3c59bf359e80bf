"""On real human scores: a scorer used through ``qpt score`` reproduces ``qpt bench``'s SRCC."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from bench.datasets import find_datasets, load_dataset
from qpt.cli import main

pytestmark = pytest.mark.slow


def test_score_on_the_held_out_20_percent_matches_bench(shared_data, tmp_path, capsys):
    found, _ = find_datasets(shared_data)
    if "livec" not in found:
        pytest.skip(f"no LIVE Challenge release under {shared_data}")
    common = ["-c", "handcrafted", "--data-root", str(shared_data), "--max-items", "120"]
    assert main(["bench", "run", "livec", *common, "--splits", "1", "--crops", "1",
                 "-o", str(tmp_path / "bench"), "--json"]) == 0  # fmt: skip
    results = json.loads(capsys.readouterr().out)["results"]
    bench_srcc = next(r for r in results if r["backbone"] == "pretrained")["splits"][0]["srcc"]

    scorer = tmp_path / "scorer"
    assert main(["finetune", "livec", *common, "-o", str(scorer)]) == 0
    test_keys = json.loads((scorer / "split.json").read_text())["test"]
    images = found["livec"] / "Images"
    out = tmp_path / "scores.csv"
    assert main(["score", *(str(images / k) for k in test_keys), "-m", str(scorer),
                 "-o", str(out)]) == 0  # fmt: skip
    mos = {s.key: s.score for s in load_dataset("livec", found["livec"]).samples}
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == len(test_keys) >= 20 and not any(r["error"] for r in rows)
    pred = [float(r["score"]) for r in rows]
    truth = [mos[str(Path(r["path"]).relative_to(images))] for r in rows]
    assert spearmanr(pred, truth).statistic == pytest.approx(bench_srcc, abs=1e-9)
    meta = json.loads((scorer / "scorer.json").read_text())
    assert meta["test"]["srcc"] == pytest.approx(bench_srcc, abs=1e-9)
    assert meta["fitted_on"]["split"] == "split-00" and meta["fitted_on"]["n_test"] == len(rows)
