"""``qpt curate`` / ``qpt shard`` glue: help with examples, one-line errors, JSON summary."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qpt.cli import main


def test_help_has_examples(capsys) -> None:
    for verb in ("curate", "shard"):
        assert main([verb, "--help"]) == 0
        out = capsys.readouterr().out
        assert "Examples" in out and f"qpt {verb}" in out


def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["curate", "--source", "folder", "--path", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not a directory" in err and "\n" not in err
    assert main(["shard", str(tmp_path / "none.parquet"), "-o", str(tmp_path / "s")]) == 2
    assert "run 'qpt curate' first" in capsys.readouterr().err


def test_curate_then_shard_json(tmp_path: Path, capsys, photos) -> None:
    from PIL import Image

    src = tmp_path / "imgs"
    src.mkdir()
    for name, im in list(photos.items())[:3]:
        Image.fromarray(im).save(src / f"{name}.png")
    (src / "notes.txt").write_text("not an image")
    code = main(["curate", "--source", "folder", "--path", str(src), "-o", str(tmp_path / "c"),
                 "--no-richness", "--no-report", "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["candidates"] == 4 and summary["rejected.not_image"] == 1
    assert (
        main(["shard", str(tmp_path / "c/manifest.parquet"), "-o", str(tmp_path / "s"), "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["samples"] == summary["kept"]


def test_extra_folder_flag_adds_candidates(tmp_path: Path, capsys, photos) -> None:
    from PIL import Image

    roots = [tmp_path / "a", tmp_path / "b"]
    for root, (name, im) in zip(roots, list(photos.items())[:2], strict=True):
        root.mkdir()
        Image.fromarray(im).save(root / f"{name}.png")
    code = main(["curate", "--source", "folder", "--path", str(roots[0]),
                 "--extra-folder", str(roots[1]), "-o", str(tmp_path / "c"),
                 "--no-richness", "--no-report", "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["candidates"] == 2 and summary["extra_folders_missing"] == 0


@pytest.mark.ray
def test_ray_executor_matches_local(tmp_path: Path) -> None:
    """Curate through a real local Ray instance (started and stopped here): the same manifest
    as the local process pool. CI installs the ray extra, so there this must run, not skip."""
    if not os.environ.get("CI"):
        pytest.importorskip("ray")
    import pyarrow.parquet as pq

    from curate.params import CurateParams
    from curate.pipeline import curate

    common = dict(source="builtin", builtin_photos=["coffee"], richness=False, report=False,
                  unit_size=8)  # fmt: skip
    local = curate(CurateParams(**common), tmp_path / "local")
    remote = curate(CurateParams(**common, executor="ray", workers=2), tmp_path / "ray")
    for key in ("candidates", "kept", "rejected"):
        assert local[key] == remote[key]
    # the built-in corpus is written inside each output folder: every column but the path
    rows = [pq.read_table(d / "manifest.parquet").drop(["uri"]).to_pylist()
            for d in (tmp_path / "local", tmp_path / "ray")]  # fmt: skip
    assert rows[0] == rows[1] and len(rows[0]) == local["candidates"]


@pytest.mark.parametrize("refusal", ["no_token", "wrong_token"])
def test_ray_auth_refusal_is_one_line_exit_2(tmp_path: Path, capsys, monkeypatch, refusal) -> None:
    """A cluster with token authentication refuses a driver without its token: Ray raises
    ``AuthenticationError`` when this process has token mode but no token, and (after its
    retries) a plain ``ConnectionError`` when the token is missing or wrong on the cluster's
    side. Both become one line naming the address and the settings to fix."""
    ray = pytest.importorskip("ray")
    address = "10.1.2.3:6379"
    if refusal == "no_token":
        exc: Exception = ray.exceptions.AuthenticationError(
            "Token authentication is enabled but no authentication token was found"
        )
    else:
        exc = ConnectionError(f"Failed to connect to Ray cluster at {address}")
    calls = []

    def refuse(**kwargs):
        calls.append(kwargs)
        raise exc

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    code = main(["curate", "--source", "builtin", "--builtin-photo", "coffee",
                 "-o", str(tmp_path / "c"), "--no-richness", "--no-report",
                 "--executor", "ray", "--address", address])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 2 and calls and calls[0]["address"] == address
    assert err.startswith(f"error: ray cluster at {address}: ") and "\n" not in err
    assert "RAY_AUTH_MODE" in err and "RAY_AUTH_TOKEN" in err and "Traceback" not in err
