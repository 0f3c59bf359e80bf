"""The pipeline runner: order, inputs, resume after a crash, re-running what changed."""

from __future__ import annotations

import io
import json
import os
import socket
from pathlib import Path

import pytest
from rich.console import Console

from qpt.config import load_config
from qpt.runner import run_pipeline
from tests.qpt.fake_stages import calls


def _run(path: Path, name: str | None = None, overrides: dict | None = None, **kw) -> dict:
    return run_pipeline(load_config(path).resolve(name, overrides=overrides), **kw)


def test_stages_run_in_order_with_earlier_outputs_as_inputs(pipelines_file: Path) -> None:
    record = _run(pipelines_file)
    run_dir = pipelines_file.parent / "runs" / "chain"
    log = calls(run_dir)
    assert [c["stage"] for c in log] == ["a", "b", "c"]
    assert [c["inputs"] for c in log] == [[], ["a"], ["a", "b"]]
    assert all(c["seed"] == 7 for c in log)
    assert (run_dir / "c" / "out.txt").read_text() == "112"
    assert record["stages"]["c"]["summary"] == {"total": 112, "label": "from-table"}
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["status"] == "done"
    assert [s["status"] for s in saved["stages"].values()] == ["done"] * 3
    assert saved["versions"]["torch"] and saved["versions"]["python"]
    assert [c["name"] for c in saved["config"]] == ["a", "b", "c"]


def test_rerun_skips_completed_stages(pipelines_file: Path) -> None:
    _run(pipelines_file)
    record = _run(pipelines_file)
    run_dir = pipelines_file.parent / "runs" / "chain"
    assert len(calls(run_dir)) == 3
    assert [s["status"] for s in record["stages"].values()] == ["skipped"] * 3
    assert record["stages"]["c"]["summary"]["total"] == 112
    # The time the stage took when it ran is kept, not lost to the 0 s skip.
    assert all(s["seconds_when_run"] is not None for s in record["stages"].values())


def test_force_redoes_every_stage(pipelines_file: Path) -> None:
    _run(pipelines_file)
    _run(pipelines_file, force=True)
    assert len(calls(pipelines_file.parent / "runs" / "chain")) == 6


def test_crash_then_rerun_resumes_at_the_failed_stage(pipelines_file: Path) -> None:
    run_dir = pipelines_file.parent / "runs" / "chain"
    with pytest.raises(ValueError, match="told to fail"):
        _run(pipelines_file, overrides={"b.fail": True})
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["status"] == "failed"
    assert saved["stages"]["b"]["status"] == "failed"
    assert saved["stages"]["c"]["status"] == "pending"
    assert not (run_dir / "b" / "_stage.json").exists()
    # b's params changed (fail flag dropped) so b restarts clean; a is reused.
    _run(pipelines_file)
    assert [c["stage"] for c in calls(run_dir)] == ["a", "b", "b", "c"]


def test_interrupted_stage_keeps_its_partial_work_when_unchanged(pipelines_file: Path) -> None:
    run_dir = pipelines_file.parent / "runs" / "chain"
    with pytest.raises(ValueError):
        _run(pipelines_file, overrides={"c.fail": True})
    partial = run_dir / "c" / "partial.txt"
    partial.write_text("progress marker")
    # Same fingerprint (params unchanged): the folder is handed back as it was.
    with pytest.raises(ValueError):
        _run(pipelines_file, overrides={"c.fail": True})
    assert partial.read_text() == "started"  # the stage itself overwrote it, not a wipe
    assert (run_dir / "c" / "_stage_started.json").exists()


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_a_killed_run_shows_as_interrupted(pipelines_file: Path) -> None:
    from qpt.run_record import read_run

    run_dir = pipelines_file.parent / "runs" / "chain"
    _run(pipelines_file)
    # what a run killed during stage b leaves: "running", written by a process now gone
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["pid"] == os.getpid() and saved["host"] == socket.gethostname()
    saved["status"], saved["stages"]["b"]["status"] = "running", "running"
    (run_dir / "run.json").write_text(json.dumps({**saved, "pid": _dead_pid()}))
    shown = read_run(run_dir)
    assert shown["status"] == "interrupted" and shown["stages"]["b"]["status"] == "interrupted"
    assert shown["stages"]["a"]["status"] == "done"
    # a live owner, or one on another host, is not judged
    (run_dir / "run.json").write_text(json.dumps(saved))
    assert read_run(run_dir)["status"] == "running"
    (run_dir / "run.json").write_text(json.dumps({**saved, "pid": _dead_pid(), "host": "x"}))
    assert read_run(run_dir)["status"] == "running"
    # the next run says so before it takes the folder over
    (run_dir / "run.json").write_text(json.dumps({**saved, "pid": _dead_pid()}))
    shown = io.StringIO()
    assert _run(pipelines_file, console=Console(file=shown, width=500))["status"] == "done"
    assert "was interrupted in stage 'b'; continuing it" in shown.getvalue()
    assert read_run(run_dir)["status"] == "done"


def test_changed_parameter_redoes_that_stage_and_later_ones(pipelines_file: Path) -> None:
    _run(pipelines_file)
    record = _run(pipelines_file, overrides={"b.value": 50})
    run_dir = pipelines_file.parent / "runs" / "chain"
    assert [c["stage"] for c in calls(run_dir)] == ["a", "b", "c", "b", "c"]
    assert [s["status"] for s in record["stages"].values()] == ["skipped", "done", "done"]
    assert (run_dir / "c" / "out.txt").read_text() == "152"


def test_until_stops_after_the_named_stage(pipelines_file: Path) -> None:
    record = _run(pipelines_file, until="b")
    assert [s["status"] for s in record["stages"].values()] == ["done", "done", "pending"]
    with pytest.raises(ValueError, match="--until 'zz'"):
        _run(pipelines_file, until="zz")


BOUND = """
[pipeline.p]
[[pipeline.p.stage]]
kind = "fake"
name = "first"
[[pipeline.p.stage]]
kind = "fake"
name = "second"
[[pipeline.p.stage]]
kind = "fake"
name = "third"
inputs = { fake = "first" }
"""


def test_inputs_table_binds_a_stage_to_a_chosen_earlier_stage(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.toml"
    path.write_text(f'[run]\nruns_dir = "{tmp_path}/runs"\n' + BOUND)
    _run(path, "p")
    fed = {c["stage"]: c["fed_by"] for c in calls(tmp_path / "runs" / "p")}
    assert fed == {"first": None, "second": "first", "third": "first"}


def test_inputs_must_name_an_earlier_stage(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.toml"
    path.write_text(BOUND.replace('{ fake = "first" }', '{ fake = "fourth" }'))
    with pytest.raises(ValueError, match="inputs.fake = 'fourth' is not an earlier stage"):
        load_config(path).resolve("p")


HELD = """
[run]
runs_dir = "{runs}"
[pipeline.p]
[[pipeline.p.stage]]
kind = "log"
name = "a"
hold = "{hold}"
[[pipeline.p.stage]]
kind = "log"
name = "b"
"""


def test_a_second_run_of_the_same_pipeline_is_refused_at_once(tmp_path: Path, capsys) -> None:
    import subprocess
    import sys
    import time

    from qpt.cli import main
    from tests.qpt.rank_driver import calls

    root = Path(__file__).resolve().parents[2]
    config, hold = tmp_path / "pipelines.toml", tmp_path / "release"
    config.write_text(HELD.format(runs=tmp_path / "runs", hold=hold))
    run_dir = tmp_path / "runs" / "p"
    first = subprocess.Popen(
        [sys.executable, "-m", "tests.qpt.rank_driver", "run", "p", "-c", str(config)],
        env={**os.environ, "PYTHONPATH": str(root)}, cwd=root, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not calls(run_dir) and time.monotonic() < deadline:  # the first is inside 'a'
            time.sleep(0.05)
        # Another value of 'a' would have the runner empty a/ before a's own lock: refused first.
        code = main(["run", "p", "-c", str(config), "--set", 'a.hold="elsewhere"'])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1 and err.startswith(f"error: {run_dir}: in use by run (pid ")
        assert (run_dir / "a" / "_stage_started.json").exists()  # a's folder left alone
    finally:
        hold.touch()
        _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert [c["stage"] for c in calls(run_dir)] == ["a", "b"]
    assert json.loads((run_dir / "run.json").read_text())["pid"] == first.pid
