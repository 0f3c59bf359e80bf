"""Run a resolved pipeline stage by stage into ``runs/<pipeline>/``, resumably.

Each stage writes into ``runs/<pipeline>/<stage>/``. When it returns, the runner writes
``_stage.json`` there (its fingerprint and summary): on a rerun a stage whose fingerprint is
unchanged is skipped. The fingerprint covers the stage's kind and parameters, the run's seed
and the fingerprints of every earlier stage, so changing a parameter redoes that stage and
everything after it. A stage interrupted midway has no ``_stage.json``; it is started again
on the same folder and may continue its own partial work (curation and training do).
``run.json`` in the run folder records the config, versions, git commit and per-stage timings.

One ``qpt run`` per run folder: it holds the folder's ``qpt.lock`` while it runs, so a second
one is refused at once instead of emptying a stage folder the first is writing. Under
torchrun, rank 0 runs the pipeline and the other ranks join only the stages that need every
rank (pretraining), see :mod:`qpt.ranks`.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from qpt.config import ResolvedPipeline, ResolvedStage
from qpt.ranks import RANK_TIMEOUT_S, Follower, Leader, Rank, rank_from_env
from qpt.report import print_stage_summary
from qpt.run_record import owner, report_interrupted
from qpt.stage import StageContext
from qpt.stages import get_stage
from qpt_base.atomic import atomic_write_json
from qpt_base.lock import folder_lock

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


@dataclass(frozen=True)
class _Step:
    """One stage of the run as planned: its folder, fingerprint and the stages before it."""

    stage: ResolvedStage
    out_dir: Path
    fingerprint: str
    inputs: dict[str, Path]
    kinds: dict[str, str]


def _plan(pipeline: ResolvedPipeline, until: str | None) -> list[_Step]:
    """The stages to visit, up to ``until``, each fingerprinted after those before it."""
    run_dir = pipeline.runs_dir / pipeline.name
    steps: list[_Step] = []
    earlier: dict[str, Path] = {}
    kinds: dict[str, str] = {}
    previous = ""
    for stage in pipeline.stages:
        previous = _fingerprint(
            previous, stage.kind, [stage.params_dict(), stage.inputs], pipeline.seed
        )
        out_dir = run_dir / stage.name
        steps.append(_Step(stage, out_dir, previous, dict(earlier), dict(kinds)))
        earlier[stage.name] = out_dir
        kinds[stage.name] = stage.kind
        if stage.name == until:
            break
    return steps


def _context(base: StageContext, step: _Step) -> StageContext:
    return replace(base, stage=step.stage.name, kind=step.stage.kind, out_dir=step.out_dir,
                   inputs=step.inputs, kinds=step.kinds,
                   bindings=dict(step.stage.inputs))  # fmt: skip


def run_pipeline(
    pipeline: ResolvedPipeline,
    *,
    force: bool = False,
    until: str | None = None,
    console: Console | None = None,
    json_mode: bool = False,
    rank_timeout: float = RANK_TIMEOUT_S,
) -> dict[str, Any]:
    """Run (or resume) every stage of ``pipeline``; return the final ``run.json`` content.

    Under torchrun (``WORLD_SIZE`` > 1) rank 0 runs the stages and writes ``run.json``; the
    other ranks join only the stages every rank must run (pretraining), waiting for rank 0
    through files in the run folder (:mod:`qpt.ranks`), and return once they are past the
    last of them. One ``qpt run`` per run folder: rank 0 holds its ``qpt.lock`` throughout.

    Args:
        pipeline: from :meth:`qpt.config.PipelinesConfig.resolve`.
        force: redo every stage, even those already completed.
        until: stop after this stage (its name).
        console: where progress and tables go (stderr by default).
        json_mode: passed on to stages; tables are not printed.
        rank_timeout: seconds a rank waits for the others before giving up.

    Returns:
        ``run.json`` on rank 0; on another rank ``{"pipeline", "rank", "world_size",
        "status", "stages_run"}``.

    Raises:
        ValueError: ``until`` names no stage, a stage reported a user mistake, another run
            holds the run folder (:class:`qpt_base.lock.FolderLocked`), or a rank gave up
            waiting (:class:`qpt.ranks.RankWaitError`).
    """
    console = console or Console(stderr=True)
    names = [s.name for s in pipeline.stages]
    if until is not None and until not in names:
        raise ValueError(f"--until '{until}': pipeline '{pipeline.name}' has stages {names}")
    rank = rank_from_env()
    run_dir = pipeline.runs_dir / pipeline.name
    steps = _plan(pipeline, until)
    base = StageContext(pipeline.name, "", "", run_dir, run_dir, seed=pipeline.seed,
                        console=console, json_mode=json_mode)  # fmt: skip
    together = rank.world > 1 and any(get_stage(s.stage.kind).all_ranks for s in steps)
    if not rank.is_leader:
        return _follow(pipeline, steps, base, Follower(run_dir, rank.rank, rank_timeout), rank)
    run_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(run_dir, "run"):
        leader = Leader(run_dir, rank.world, rank_timeout) if together else None
        return _lead(pipeline, steps, base, force, leader, rank.world)


def _lead(
    pipeline: ResolvedPipeline,
    steps: list[_Step],
    base: StageContext,
    force: bool,
    leader: Leader | None,
    world: int,
) -> dict[str, Any]:
    """Rank 0 (or the only process): run or skip each stage, recording all in ``run.json``."""
    run_dir, console = base.run_dir, base.console
    report_interrupted(run_dir, console)
    record = _new_record(pipeline, world)
    write_json_atomic(run_dir / "run.json", record)
    where = "before the first stage"
    try:
        if leader:
            leader.gather()
        for step in steps:
            where = f"in stage '{step.stage.name}'"
            _lead_stage(step, base, force, leader, record)
            write_json_atomic(run_dir / "run.json", record)
    except BaseException as exc:
        if record["status"] == "running":
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}", finished=_now())
            write_json_atomic(run_dir / "run.json", record)
        if leader:
            leader.fail(f"{where}: {type(exc).__name__}: {exc}")
        raise
    record.update(status="done", finished=_now())
    write_json_atomic(run_dir / "run.json", record)
    if leader:
        leader.finish()
    return record


def _lead_stage(
    step: _Step, base: StageContext, force: bool, leader: Leader | None, record: dict[str, Any]
) -> None:
    """Run one stage, or skip it when it completed earlier with the same fingerprint."""
    stage, out_dir = step.stage, step.out_dir
    all_ranks = leader is not None and get_stage(stage.kind).all_ranks
    done = _read_json(out_dir / DONE_FILE)
    if done and done.get("fingerprint") == step.fingerprint and not force:
        _mark_skipped(record["stages"][stage.name], done)
        if all_ranks:
            leader.release(stage.name, run=False)
        base.console.print(
            f"[dim]stage {stage.name}: completed earlier, skipped (--force redoes it)[/dim]"
        )
        return
    _prepare_folder(out_dir, step.fingerprint, done, force)
    if all_ranks:  # only once the folder is ready: the other ranks write into it too
        leader.release(stage.name, run=True)
    _run_stage(stage, _context(base, step), step.fingerprint, record)


def _follow(
    pipeline: ResolvedPipeline,
    steps: list[_Step],
    base: StageContext,
    follower: Follower,
    rank: Rank,
) -> dict[str, Any]:
    """A rank other than 0: join each all-rank stage when rank 0 gets there, skip the rest."""
    ran: list[str] = []
    together = [s for s in steps if get_stage(s.stage.kind).all_ranks]
    for step in together:
        go = follower.wait_for(step.stage.name)
        if go is None:  # rank 0 finished without it
            break
        if go:
            get_stage(step.stage.kind).run(_context(base, step), step.stage.params)
            ran.append(step.stage.name)
    base.console.print(
        f"rank {rank.rank}/{rank.world}: ran {ran or 'nothing'}; rank 0 finishes the run"
    )
    return {"pipeline": pipeline.name, "rank": rank.rank, "world_size": rank.world,
            "status": "done", "stages_run": ran}  # fmt: skip


def _new_record(pipeline: ResolvedPipeline, world: int) -> dict[str, Any]:
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
        "world_size": world,
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
