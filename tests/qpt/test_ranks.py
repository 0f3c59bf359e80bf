"""Rank 0 and the other ranks of one ``qpt run``: the file barrier, and the runner using it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qpt.config import load_config
from qpt.ranks import Follower, Leader, RankWaitError, rank_from_env
from qpt.runner import run_pipeline
from tests.qpt.rank_driver import calls

ROOT = Path(__file__).resolve().parents[2]


def _in_thread(fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # handed to the test
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def test_rank_from_env() -> None:
    assert rank_from_env({}).world == 1 and rank_from_env({}).is_leader
    assert rank_from_env({"RANK": "2"}) == rank_from_env({"RANK": "x", "WORLD_SIZE": "1"})
    assert rank_from_env({"RANK": "2"}).is_leader  # no torchrun launch: a single process
    rank = rank_from_env({"RANK": "3", "WORLD_SIZE": "4"})
    assert (rank.rank, rank.world, rank.is_leader) == (3, 4, False)
    for bad in ({"RANK": "4", "WORLD_SIZE": "4"}, {"RANK": "x", "WORLD_SIZE": "2"},
                {"WORLD_SIZE": "0"}):  # fmt: skip
        with pytest.raises(ValueError, match="need 0 <= RANK < WORLD_SIZE"):
            rank_from_env(bad)


def test_followers_obey_this_launch_and_ignore_files_of_an_earlier_one(tmp_path: Path) -> None:
    stale = Leader(tmp_path, 2, 5)
    stale.nonces = {"1": "an-earlier-launch"}
    stale.folder.mkdir()
    (stale.folder / "rank-1.json").write_text(json.dumps({"nonce": "an-earlier-launch"}))
    stale.release("pt", run=True)
    stale.fail("old failure")
    leader, follower = Leader(tmp_path, 2, 5), Follower(tmp_path, 1, 5)
    thread, out = _in_thread(lambda: [follower.wait_for("pt"), follower.wait_for("pt2")])
    leader.gather()
    assert leader.nonces == {"1": follower.nonce}
    assert not (leader.folder / "failed.json").exists()  # the earlier launch's files are gone
    leader.release("pt", run=False)
    leader.release("pt2", run=True)
    thread.join(5)
    assert out == {"value": [False, True]}
    thread, out = _in_thread(lambda: follower.wait_for("pt3"))
    leader.finish()  # rank 0 ended the run without reaching pt3
    thread.join(5)
    assert out == {"value": None}


def test_a_follower_stops_with_the_error_of_rank_0(tmp_path: Path) -> None:
    leader, follower = Leader(tmp_path, 2, 5), Follower(tmp_path, 1, 5)
    thread, out = _in_thread(lambda: follower.wait_for("pt"))
    leader.gather()
    leader.fail("in stage 'curate': ValueError: bad.jpg: truncated")
    thread.join(5)
    assert isinstance(out["error"], RankWaitError)
    assert str(out["error"]) == (
        "rank 1: rank 0 failed before stage 'pt': in stage 'curate': ValueError: bad.jpg: truncated"
    )


def test_every_wait_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(RankWaitError, match=r"rank\(s\) 1, 2 of 3 did not check in within 0.3 s"):
        Leader(tmp_path, 3, 0.3).gather()
    with pytest.raises(RankWaitError, match="rank 1: waited 0.3 s for rank 0 to reach stage 'pt'"):
        Follower(tmp_path, 1, 0.3).wait_for("pt")


PIPELINE = """
[run]
runs_dir = "{runs}"
[pipeline.p]
[[pipeline.p.stage]]
kind = "log"
name = "curate"
[[pipeline.p.stage]]
kind = "log_all"
name = "pretrain"
[[pipeline.p.stage]]
kind = "log"
name = "bench"
"""


def _follower(config: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "RANK": "1", "WORLD_SIZE": "2", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.qpt.rank_driver", "run", "p", "-c", str(config), *args]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "pipelines.toml"
    path.write_text(PIPELINE.format(runs=tmp_path / "runs"))
    return path


def test_rank_0_runs_the_pipeline_the_other_rank_joins_only_all_rank_stages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    follower = _follower(config, "--rank-timeout", "60")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    record = run_pipeline(load_config(config).resolve("p"), rank_timeout=60)
    out, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert out == ""  # rank 0 reports the run
    assert "rank 1/2: ran ['pretrain']; rank 0 finishes the run" in err
    log = [(c["stage"], c["rank"]) for c in calls(tmp_path / "runs" / "p")]
    assert sorted(log) == [("bench", 0), ("curate", 0), ("pretrain", 0), ("pretrain", 1)]
    assert log.index(("curate", 0)) < log.index(("pretrain", 1))
    saved = json.loads((tmp_path / "runs" / "p" / "run.json").read_text())
    assert saved == record and saved["world_size"] == 2 and saved["pid"] == os.getpid()
    assert [s["status"] for s in saved["stages"].values()] == ["done"] * 3


def test_when_rank_0_fails_the_other_rank_stops_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    follower = _follower(config, "--set", "curate.fail=true")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match="told to fail"):
        run_pipeline(load_config(config).resolve("p", overrides={"curate.fail": True}))
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 2
    assert err.strip().splitlines() == [
        "error: rank 1: rank 0 failed before stage 'pretrain': in stage 'curate': "
        "ValueError: stage curate was told to fail"
    ]
    assert [c["rank"] for c in calls(tmp_path / "runs" / "p")] == [0]


def test_a_rerun_where_all_is_done_releases_the_other_rank_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    run_pipeline(load_config(config).resolve("p"))  # a single-process run did it all
    follower = _follower(config)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    record = run_pipeline(load_config(config).resolve("p"), rank_timeout=60)
    _, err = follower.communicate(timeout=60)
    assert follower.returncode == 0, err
    assert "rank 1/2: ran nothing; rank 0 finishes the run" in err
    assert [s["status"] for s in record["stages"].values()] == ["skipped"] * 3
    assert record["world_size"] == 2
    assert len(calls(tmp_path / "runs" / "p")) == 3


def test_with_no_all_rank_stage_to_run_rank_0_waits_for_no_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    record = run_pipeline(load_config(config).resolve("p"), until="curate", rank_timeout=0.1)
    assert record["status"] == "done" and record["world_size"] == 2
    assert not (tmp_path / "runs" / "p" / "_ranks").exists()
    monkeypatch.setenv("RANK", "1")  # ... and the other rank has nothing to wait for
    follower = run_pipeline(load_config(config).resolve("p"), until="curate", rank_timeout=0.1)
    assert follower == {"pipeline": "p", "rank": 1, "world_size": 2, "status": "done",
                        "stages_run": []}  # fmt: skip
