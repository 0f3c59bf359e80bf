"""The manifest's paths are absolute: ``qpt shard`` works from another directory than the
one ``qpt curate`` ran in (folder and SA-1B sources; LAION: ``test_laion.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from qpt.cli import main
from tests.curate.conftest import encode, sa1b_json, sa1b_tar


def _curate_here_shard_elsewhere(tmp_path: Path, monkeypatch, args: list[str]) -> list[dict]:
    monkeypatch.chdir(tmp_path / "work")
    assert main(["curate", *args, "-o", "runs/c", "--no-report", "--no-richness"]) == 0
    rows = pq.read_table("runs/c/manifest.parquet").to_pylist()
    assert rows and all(os.path.isabs(r["uri"]) for r in rows)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    manifest = tmp_path / "work/runs/c/manifest.parquet"
    assert main(["shard", str(manifest), "-o", "shards", "--json"]) == 0
    return rows


def test_folder_source_by_relative_path(photos, tmp_path: Path, monkeypatch, capsys) -> None:
    src = tmp_path / "work/imgs"
    src.mkdir(parents=True)
    for name, im in list(photos.items())[:2]:
        Image.fromarray(im).save(src / f"{name}.png")
    rows = _curate_here_shard_elsewhere(tmp_path, monkeypatch, ["--source", "folder",
                                                                "--path", "imgs"])  # fmt: skip
    assert {Path(r["uri"]).parent for r in rows} == {src.resolve()}
    assert '"samples": 2' in capsys.readouterr().out


def test_sa1b_source_by_relative_path(photos, tmp_path: Path, monkeypatch, capsys) -> None:
    (tmp_path / "work/tars").mkdir(parents=True)
    im = next(iter(photos.values()))
    h, w = im.shape[:2]
    sa1b_tar(
        tmp_path / "work/tars/sa_000000.tar", [("sa_1", encode(im), sa1b_json("sa_1", w, h, 3))]
    )
    rows = _curate_here_shard_elsewhere(tmp_path, monkeypatch, ["--source", "sa1b",
                                                                "--path", "tars"])  # fmt: skip
    assert rows[0]["uri"] == str((tmp_path / "work/tars/sa_000000.tar").resolve())
    assert '"samples": 1' in capsys.readouterr().out
