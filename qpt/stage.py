"""The contract between the pipeline runner and the stages it runs.

A *stage kind* (``curate``, ``shard``, ``pretrain``, ``bench``, ...) is a pair:

* a pydantic model of its parameters (the TOML table of the stage, validated on load), and
* a function ``run(ctx: StageContext, params: Model) -> dict`` that does the work inside
  ``ctx.out_dir`` and returns a JSON-serialisable summary (flat ``name -> value`` pairs are
  printed as the end-of-stage table; nested values go to ``run.json`` only).

The parameter models are the libraries' API (``curate.params``, ``train.config``, ...); the run
functions are adapters in :mod:`qpt.stages`, one module per kind, which map kind names to both.

User mistakes (bad values, missing or unreadable files) are raised as ``ValueError`` or
``FileNotFoundError`` with a one-line message naming the file and the reason; the CLI turns
them into ``error: ...`` and exit code 2. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console


@dataclass
class StageContext:
    """What a stage knows about the run it is part of.

    Attributes:
        pipeline: name of the pipeline being run (``default``, ``cpu-smoke``, ...).
        stage: name of this stage inside the pipeline (unique within it).
        kind: stage kind (``curate``, ``shard``, ...).
        run_dir: ``runs/<pipeline>``; shared by all stages of the run.
        out_dir: this stage's own folder (``run_dir / stage``), created by the runner.
            Everything the stage writes goes here; partial work left here by an
            interrupted run is the stage's to resume.
        inputs: ``out_dir`` of every earlier stage of the run, by stage name, in order.
        bindings: input kind -> stage name, from the stage's ``inputs`` table in
            ``pipelines.toml``; :meth:`input_of` honours it before the default.
        seed: the run's seed (stages derive their own generators from it).
        console: where to print (rich); progress bars should use it.
        json_mode: True when the user asked for machine-readable output only.
    """

    pipeline: str
    stage: str
    kind: str
    run_dir: Path
    out_dir: Path
    inputs: dict[str, Path] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    console: Console = field(default_factory=lambda: Console(stderr=True))
    json_mode: bool = False

    def input_of(self, kind: str) -> Path:
        """Output folder of the earlier stage feeding ``kind`` (e.g. the shards for pretrain).

        That is the stage named in ``bindings[kind]`` when the pipeline says so, else the
        latest earlier stage of that kind.

        Raises:
            ValueError: no earlier stage of that kind in this pipeline.
        """
        if kind in self.bindings:
            return self.inputs[self.bindings[kind]]
        for name in reversed(list(self.inputs)):
            if self.kinds.get(name) == kind:
                return self.inputs[name]
        raise ValueError(
            f"stage '{self.stage}' needs an earlier '{kind}' stage in pipeline "
            f"'{self.pipeline}' (or an explicit path parameter)"
        )
