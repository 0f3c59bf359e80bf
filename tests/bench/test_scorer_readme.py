"""The README's "Use a scorer" section runs as written (commands and Python snippet)."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _blocks(kind: str) -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Use a scorer", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{kind}\n(.*?)```", section, flags=re.S)


def test_use_a_scorer_section_works_as_written(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    python = f'"{sys.executable}"'
    lines = _blocks("bash")[0].splitlines()
    commands = [line for line in lines if line.strip() and not line.startswith("#")]
    assert [c.split()[1] for c in commands] == ["finetune", "score"]
    for command in commands:
        command = re.sub(r"\bpython\b", python, command)
        command = re.sub(r"^qpt ", f"{python} -m qpt ", command)
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "runs" / "my-scores.csv").open()))
    scored = [r for r in rows if not r["error"]]
    assert len(scored) >= 20 and len({r["score"] for r in scored}) > 10
    snippet = _blocks("python")[0]
    done = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert re.match(r"tensor\(\[\s*[-\d.]+,\s*[-\d.]+\]\)", done.stdout.strip()), done.stdout
