"""Run a resolved pipeline stage by stage into ``runs/<pipeline>/``, resumably.

Each stage writes into ``runs/<pipeline>/<stage>/``. When it returns, the runner writes
``_stage.json`` there (its fingerprint and summary): on a rerun a stage whose fingerprint is
unchanged is skipped. The fingerprint covers the stage's kind and parameters, the run's seed
and the fingerprints of every earlier stage, so changing a parameter redoes that stage and
everything after it. A stage interrupted midway has no ``_stage.json``; it is started again
on the same folder and may continue its own partial work (curation and training do).
``run.json`` in the run folder records the config, versions, git commit and per-stage timings.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from qpt.config import ResolvedPipeline, ResolvedStage
from qpt.report import print_stage_summary
from qpt.run_record import owner, report_interrupted
from qpt.stage import StageContext
from qpt.stages import get_stage
from qpt_base.atomic import atomic_write_json

DONE_FILE = "_stage.json"
STARTED_FILE = "_stage_started.json"
_VERSIONED = (
    "qpt",
    "torch",
    "torchvision",
    "kornia",
    "open-clip-torch",
    "faiss-cpu",
    "webdataset",
    "pyarrow",
    "numpy",
    "pillow",
    "opencv-python-headless",
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers never see a half-written file."""
    atomic_write_json(path, data)


def versions() -> dict[str, str | None]:
    """Installed versions of qpt and the libraries whose behaviour shapes results."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for dist in _VERSIONED:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return found


def git_commit(where: Path | None = None) -> str | None:
    """``HEAD`` of the qpt source tree (``+dirty`` if modified), or None outside git."""
    where = where or Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _fingerprint(previous: str, kind: str, params: Any, seed: int) -> str:
    blob = json.dumps([previous, kind, params, seed], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_pipeline(
    pipeline: ResolvedPipeline,
    *,
    force: bool = False,
    until: str | None = None,
    console: Console | None = None,
    json_mode: bool = False,
) -> dict[str, Any]:
    """Run (or resume) every stage of ``pipeline``; return the final ``run.json`` content.

    Args:
        pipeline: from :meth:`qpt.config.PipelinesConfig.resolve`.
        force: redo every stage, even those already completed.
        until: stop after this stage (its name).
        console: where progress and tables go (stderr by default).
        json_mode: passed on to stages; tables are not printed.

    Raises:
        ValueError: ``until`` names no stage, or a stage reported a user mistake.
    """
    console = console or Console(stderr=True)
    names = [s.name for s in pipeline.stages]
    if until is not None and until not in names:
        raise ValueError(f"--until '{until}': pipeline '{pipeline.name}' has stages {names}")
    run_dir = pipeline.runs_dir / pipeline.name
    run_dir.mkdir(parents=True, exist_ok=True)
    report_interrupted(run_dir, console)
    record = _new_record(pipeline)
    write_json_atomic(run_dir / "run.json", record)

    base = StageContext(pipeline.name, "", "", run_dir, run_dir, seed=pipeline.seed,
                        console=console, json_mode=json_mode)  # fmt: skip
    earlier: dict[str, Path] = {}
    kinds: dict[str, str] = {}
    previous = ""
    for stage in pipeline.stages:
        out_dir = run_dir / stage.name
        fingerprint = _fingerprint(
            previous, stage.kind, [stage.params_dict(), stage.inputs], pipeline.seed
        )
        previous = fingerprint
        entry = record["stages"][stage.name]
        done = _read_json(out_dir / DONE_FILE)
        if done and done.get("fingerprint") == fingerprint and not force:
            _mark_skipped(entry, done)
            console.print(
                f"[dim]stage {stage.name}: completed earlier, skipped (--force redoes it)[/dim]"
            )
        else:
            _prepare_folder(out_dir, fingerprint, done, force)
            ctx = replace(base, stage=stage.name, kind=stage.kind, out_dir=out_dir,
                          inputs=dict(earlier), kinds=dict(kinds),
                          bindings=dict(stage.inputs))  # fmt: skip
            _run_stage(stage, ctx, fingerprint, record)
        earlier[stage.name] = out_dir
        kinds[stage.name] = stage.kind
        write_json_atomic(run_dir / "run.json", record)
        if stage.name == until:
            break
    record.update(status="done", finished=_now())
    write_json_atomic(run_dir / "run.json", record)
    return record


def _new_record(pipeline: ResolvedPipeline) -> dict[str, Any]:
    """The first ``run.json``: the config, versions and commit; every stage pending."""
    return {
        "pipeline": pipeline.name,
        "description": pipeline.description,
        "config_file": str(pipeline.source),
        "seed": pipeline.seed,
        "started": _now(),
        "finished": None,
        "status": "running",
        **owner(),
        "git_commit": git_commit(),
        "versions": versions(),
        "config": [
            {"name": s.name, "kind": s.kind, "inputs": s.inputs, "params": s.params_dict()}
            for s in pipeline.stages
        ],
        "stages": {s.name: {"status": "pending"} for s in pipeline.stages},
    }


def _mark_skipped(entry: dict[str, Any], done: dict[str, Any]) -> None:
    entry.update(
        status="skipped",
        reason="completed earlier",
        summary=done["summary"],
        seconds=0.0,
        seconds_when_run=done.get("seconds"),
        completed=done.get("finished"),
    )


def _prepare_folder(out_dir: Path, fingerprint: str, done: dict | None, force: bool) -> None:
    """Empty the stage folder unless it holds partial work of this very stage to resume."""
    started = _read_json(out_dir / STARTED_FILE)
    stale = done is not None or (started and started.get("fingerprint") != fingerprint)
    if out_dir.exists() and (force or stale):
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / STARTED_FILE).exists():
        write_json_atomic(out_dir / STARTED_FILE, {"fingerprint": fingerprint})


def _run_stage(
    stage: ResolvedStage, ctx: StageContext, fingerprint: str, record: dict[str, Any]
) -> None:
    """Run one stage, recording its outcome in ``record`` and ``_stage.json`` when done."""
    entry = record["stages"][stage.name]
    entry.update(status="running", started=_now())
    write_json_atomic(ctx.run_dir / "run.json", record)
    ctx.console.rule(f"[bold]{stage.name}[/bold] ({stage.kind})")
    run_fn = get_stage(stage.kind).run
    t0 = time.perf_counter()
    try:
        summary = run_fn(ctx, stage.params) or {}
    except BaseException as exc:
        entry.update(
            status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
            error=f"{type(exc).__name__}: {exc}",
            seconds=round(time.perf_counter() - t0, 3),
        )
        record.update(status="failed", finished=_now())
        write_json_atomic(ctx.run_dir / "run.json", record)
        raise
    seconds = round(time.perf_counter() - t0, 3)
    done = {"fingerprint": fingerprint, "summary": summary, "seconds": seconds}
    write_json_atomic(ctx.out_dir / DONE_FILE, {**done, "finished": _now()})
    entry.update(status="done", seconds=seconds, summary=summary)
    if not ctx.json_mode:
        print_stage_summary(ctx.console, stage.name, summary, seconds)
