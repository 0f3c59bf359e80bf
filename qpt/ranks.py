"""Several ranks of one ``qpt run`` under torchrun: rank 0 leads, the others follow by files.

Rank 0 runs the single-process stages (curate, shard, bench, ...) alone; the stages every
rank must join (pretraining with DDP) are run by all. The other ranks wait for rank 0 in
``RUN_DIR/_ranks/``, a folder on the storage all nodes share (the run folder must be shared
anyway: every rank reads the shards and rank 0 writes the checkpoints):

* each follower announces itself with a fresh nonce (``rank-N.json``);
* rank 0 clears the folder of any earlier launch, collects one nonce per rank, then writes
  one event file per step: ``stage-NAME.json`` (run or skip that all-rank stage),
  ``failed.json`` (with the error) or ``done.json``. Every event lists the nonces it is
  meant for, so a file left by an earlier launch is never taken for one of this launch.

Every wait is bounded: a follower whose rank 0 failed stops with rank 0's error; one whose
rank 0 went silent (killed) stops after the timeout with a message saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qpt_base.atomic import atomic_write_json

RANKS_DIR = "_ranks"
POLL_S = 0.2
RANK_TIMEOUT_S = 24 * 3600.0  # rank 0 may curate a large corpus before pretraining


class RankWaitError(ValueError):
    """A rank stopped waiting: rank 0 failed, or the other side did not come in time."""


@dataclass(frozen=True)
class Rank:
    """This process's place in the launch: ``rank`` of ``world`` (1 without torchrun)."""

    rank: int = 0
    world: int = 1

    @property
    def is_leader(self) -> bool:
        return self.rank == 0


def rank_from_env(environ: dict[str, str] | None = None) -> Rank:
    """``RANK`` and ``WORLD_SIZE`` as torchrun sets them; rank 0 of 1 without ``WORLD_SIZE``
    (or with ``WORLD_SIZE=1``), whatever ``RANK`` says.

    Raises:
        ValueError: values that are not integers with ``0 <= RANK < WORLD_SIZE``.
    """
    env = os.environ if environ is None else environ
    raw_rank, raw_world = env.get("RANK", "0"), env.get("WORLD_SIZE", "1")
    if raw_world.strip() == "1":
        return Rank()
    try:
        rank, world = int(raw_rank), int(raw_world)
    except ValueError:
        rank, world = -1, 0
    if not 0 <= rank < world:
        raise ValueError(
            f"RANK={raw_rank!r}, WORLD_SIZE={raw_world!r}: need 0 <= RANK < WORLD_SIZE"
        )
    return Rank(rank, world)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class Leader:
    """Rank 0's side: collect the followers, then tell them what to do."""

    def __init__(self, run_dir: Path, world: int, timeout_s: float) -> None:
        self.folder = Path(run_dir) / RANKS_DIR
        self.world = world
        self.timeout_s = timeout_s
        self.nonces: dict[str, str] = {}

    def gather(self) -> None:
        """Clear files of earlier launches and wait until every other rank has checked in.

        Raises:
            RankWaitError: some rank did not check in within the timeout.
        """
        if self.folder.exists():  # a rename is atomic; followers writing meanwhile retry
            trash = self.folder.with_name(f"{RANKS_DIR}.old-{uuid.uuid4().hex[:8]}")
            os.replace(self.folder, trash)
            shutil.rmtree(trash, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        wanted = [str(r) for r in range(1, self.world)]
        deadline = time.monotonic() + self.timeout_s
        while True:
            for r in wanted:
                if r not in self.nonces:
                    entry = _read(self.folder / f"rank-{r}.json")
                    if entry and isinstance(entry.get("nonce"), str):
                        self.nonces[r] = entry["nonce"]
            missing = [r for r in wanted if r not in self.nonces]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise RankWaitError(
                    f"{self.folder}: rank(s) {', '.join(missing)} of {self.world} did not "
                    f"check in within {self.timeout_s:g} s (--rank-timeout sets the wait)"
                )
            time.sleep(POLL_S)

    def _event(self, name: str, **data: Any) -> None:
        atomic_write_json(self.folder / f"{name}.json", {**data, "nonces": self.nonces})

    def release(self, stage: str, run: bool) -> None:
        """Let the followers into the all-rank ``stage`` (or tell them it is skipped)."""
        self._event(f"stage-{stage}", stage=stage, action="run" if run else "skip")

    def fail(self, error: str) -> None:
        """Tell the followers that rank 0 stopped with ``error``."""
        self._event("failed", error=error)

    def finish(self) -> None:
        """Tell the followers that rank 0 finished the run."""
        self._event("done")


class Follower:
    """A rank other than 0: check in, then wait for rank 0 before each all-rank stage."""

    def __init__(self, run_dir: Path, rank: int, timeout_s: float) -> None:
        self.folder = Path(run_dir) / RANKS_DIR
        self.rank = rank
        self.timeout_s = timeout_s
        self.nonce = uuid.uuid4().hex
        self._card = {"nonce": self.nonce, "pid": os.getpid(), "host": socket.gethostname()}

    def _announce(self) -> None:
        """(Re)write ``rank-N.json`` unless it is there: rank 0 clears the folder once."""
        path = self.folder / f"rank-{self.rank}.json"
        if (_read(path) or {}).get("nonce") == self.nonce:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, self._card)
        except OSError:  # the folder was being cleared: the next poll writes it again
            pass

    def _mine(self, name: str) -> dict[str, Any] | None:
        event = _read(self.folder / f"{name}.json")
        if event and (event.get("nonces") or {}).get(str(self.rank)) == self.nonce:
            return event
        return None

    def wait_for(self, stage: str) -> bool | None:
        """Wait until rank 0 reaches the all-rank ``stage``.

        Returns:
            True to run it, False when rank 0 skips it (completed earlier), None when rank 0
            finished the run without it.

        Raises:
            RankWaitError: rank 0 failed, or said nothing within the timeout.
        """
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._announce()
            failed = self._mine("failed")
            if failed:
                raise RankWaitError(
                    f"rank {self.rank}: rank 0 failed before stage '{stage}': {failed['error']}"
                )
            event = self._mine(f"stage-{stage}")
            if event:
                return event.get("action") == "run"
            if self._mine("done"):
                return None
            if time.monotonic() > deadline:
                raise RankWaitError(
                    f"rank {self.rank}: waited {self.timeout_s:g} s for rank 0 to reach stage "
                    f"'{stage}' (see {self.folder.parent / 'run.json'}); rank 0 is slower "
                    "than --rank-timeout or was killed"
                )
            time.sleep(POLL_S)
