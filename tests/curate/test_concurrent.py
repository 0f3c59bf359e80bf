"""Two runs into one output folder: the second is refused at once, the first is unharmed."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.params import CurateParams, ShardParams
from curate.pipeline import curate
from curate.shard import write_shards
from qpt.cli import main
from qpt_base.lock import folder_lock

# Runs `qpt curate ARGS...`; the first unit waits until the file argv[1] exists, so the
# run holds its folder for as long as the test needs.
_CHILD = """
import sys, time
from pathlib import Path
import curate.pipeline as p
real = p.process_unit
def gated(unit, params):
    while not Path(sys.argv[1]).exists():
        time.sleep(0.05)
    return real(unit, params)
p.process_unit = gated
from qpt.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("imgs")
    for name, im in list(photos.items())[:3]:
        Image.fromarray(im[:300, :300]).save(root / f"{name}.png")
        Image.fromarray(im[:200, :200]).save(root / f"{name}_small.png")
    return root


def _args(images: Path, out: Path, min_short_side: int) -> list[str]:
    return ["curate", "--source", "folder", "--path", str(images), "-o", str(out),
            "--min-short-side", str(min_short_side), "--no-richness", "--no-report",
            "--unit-size", "2", "--json"]  # fmt: skip


def _strip(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: r["key"])


def test_two_curates_into_one_folder_one_refuses(images: Path, tmp_path: Path) -> None:
    out, go = tmp_path / "same", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    sides = (250, 100)  # different parameters: a mix would show in the manifest
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(go), *_args(images, out, side)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for side in sides
    ]
    try:
        deadline = time.monotonic() + 120
        while all(c.poll() is None for c in children) and time.monotonic() < deadline:
            time.sleep(0.05)
        refused = [i for i, c in enumerate(children) if c.poll() is not None]
        assert len(refused) == 1, "neither run was refused"
        loser = children[refused[0]]
        err = loser.stderr.read().strip()
        assert loser.returncode == 2 and "\n" not in err, err
        assert err.startswith(f"error: {out}: in use by curate (pid ") and "another folder" in err
    finally:
        go.touch()
        for c in children:
            c.wait(timeout=120)
    winner = children[1 - refused[0]]
    assert winner.returncode == 0, winner.stderr.read()
    # The winner's manifest is exactly that of the same run alone.
    alone = tmp_path / "alone"
    assert main(_args(images, alone, sides[1 - refused[0]])) == 0
    got = _strip(pq.read_table(out / "manifest.parquet").to_pylist())
    assert got == _strip(pq.read_table(alone / "manifest.parquet").to_pylist())
    assert not (out / "qpt.lock").exists()
    assert not [p for p in out.rglob(".*") if ".tmp-" in p.name]


def test_curate_and_shard_refuse_a_held_folder(images: Path, tmp_path: Path, capsys) -> None:
    params = CurateParams(source="folder", path=images, richness=False, report=False)
    (tmp_path / "c").mkdir()
    with folder_lock(tmp_path / "c", "other"):
        with pytest.raises(ValueError, match="in use by other"):
            curate(params, tmp_path / "c")
        assert main(_args(images, tmp_path / "c", 100)) == 2
        assert "in use by other" in capsys.readouterr().err
    curate(params, tmp_path / "c")
    (tmp_path / "s").mkdir()
    with folder_lock(tmp_path / "s", "other"):
        with pytest.raises(ValueError, match="in use by other"):
            write_shards(tmp_path / "c/manifest.parquet", tmp_path / "s", ShardParams())
        code = main(["shard", str(tmp_path / "c/manifest.parquet"), "-o", str(tmp_path / "s")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err and "in use by other" in err
    assert write_shards(tmp_path / "c/manifest.parquet", tmp_path / "s", ShardParams())["samples"]


def test_temporaries_of_a_dead_run_are_swept(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "c"
    params = CurateParams(source="folder", path=images, richness=False, report=False)
    curate(params, out)
    leftovers = [
        out / ".manifest.parquet.tmp-99999-abcd",
        out / "parts/.unit-00000.parquet.tmp-1-2",
    ]
    for p in leftovers:
        p.write_bytes(b"half")
    curate(params, out)
    assert not any(p.exists() for p in leftovers)


def test_every_write_goes_through_a_per_process_temporary(
    images: Path, tmp_path: Path, monkeypatch
) -> None:
    """parts/, the plan and the manifest are renamed into place from names no other process
    can share (``.NAME.tmp-PID-RANDOM``)."""
    import qpt_base.atomic

    real, sources = os.replace, []

    def replace(src, dst) -> None:
        sources.append((Path(src).name, Path(dst).relative_to(tmp_path / "c").as_posix()))
        real(src, dst)

    monkeypatch.setattr(qpt_base.atomic.os, "replace", replace)
    curate(CurateParams(source="folder", path=images, richness=False, report=False), tmp_path / "c")
    written = {dst for _, dst in sources}
    assert {"parts/plan.json", "parts/settled.parquet", "manifest.parquet"} <= written
    assert any(dst.startswith("parts/unit-") for dst in written)
    for src, dst in sources:
        assert src.startswith(f".{Path(dst).name}.tmp-{os.getpid()}-"), (src, dst)
