"""``qpt pretrain`` and ``qpt pretrain export`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qpt.cli import main


def test_show_resolves_recipe_and_overrides(capsys: pytest.CaptureFixture) -> None:
    assert main(["pretrain", "--recipe", "hivit-base-8gpu", "--set", "steps=7000", "--show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["model"] == "mae_hivit_base" and shown["steps"] == 7000


def test_user_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["pretrain", "--set", "steps=0", "--show"]) == 2
    assert main(["pretrain", "--shards", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert main(["pretrain", "export", str(tmp_path), str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: ") for line in err)
    assert "steps" in err[0] and "no such folder" in err[1] and "no complete" in err[2]


def test_train_stop_resume_and_export(shard_dir: Path, tmp_path: Path, capsys) -> None:
    common = ["pretrain", "--shards", str(shard_dir), "--out", str(tmp_path / "run"), "--json"]
    common += ["-s", "img_size=64", "-s", "batch_size=2", "-s", "steps=4", "-s", "warmup_steps=1"]
    common += ["-s", "ckpt_every=2", "-s", "num_workers=0", "-s", "degrade='qpt-v2'"]
    assert main([*common, "--stop-after", "2"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["steps"] == 2 and not first["complete"]
    assert main([*common, "--seed", "1"]) == 2  # the run was seeded 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "seed=0" in err[0], err
    assert main(common) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["complete"] and second["steps"] == 4 and second["resumed_from"]
    assert main(["pretrain", "export", str(tmp_path / "run"), str(tmp_path / "enc")]) == 0
    cfg = json.loads((tmp_path / "enc" / "config.json").read_text())
    assert cfg["model"] == "qpt_hivit_nano" and cfg["step"] == 4
