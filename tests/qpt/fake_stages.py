"""Stage kinds used only by the runner tests: they log their calls and can fail on demand."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from qpt.stage import StageContext


class FakeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: int = 0
    label: str = "x"
    fail: bool = False
    nested: dict[str, int] = {}


def run_fake(ctx: StageContext, params: FakeParams) -> dict:
    """Append a line to ``run_dir/calls.jsonl``; write ``out.txt``; raise if ``fail``."""
    record = {
        "stage": ctx.stage,
        "value": params.value,
        "label": params.label,
        "nested": params.nested,
        "inputs": list(ctx.inputs),
        "fed_by": ctx.input_of("fake").name if ctx.inputs else None,
        "seed": ctx.seed,
    }
    with open(ctx.run_dir / "calls.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    # Leave partial work behind before failing, as a crashed stage would.
    (ctx.out_dir / "partial.txt").write_text("started")
    if params.fail:
        raise ValueError(f"stage {ctx.stage} was told to fail")
    previous = [Path(p) / "out.txt" for p in ctx.inputs.values()]
    total = params.value + sum(int(p.read_text()) for p in previous)
    (ctx.out_dir / "out.txt").write_text(str(total))
    return {"total": total, "label": params.label}


def calls(run_dir: Path) -> list[dict]:
    path = run_dir / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
