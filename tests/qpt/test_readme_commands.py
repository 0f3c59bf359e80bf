"""Every command of the README's "Scaling out" section parses with the tool it names.

Each ``qpt``, ``torchrun`` and ``ray start`` line is handed to that tool's own argument
parser (nothing runs): a renamed or misspelt flag fails here instead of for a user.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

from qpt.cli import app
from qpt.config import load_config, parse_override

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> list[list[str]]:
    text = README.read_text().split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in text.split("```bash\n")[1:]:
        body = block.split("```", 1)[0].replace("\\\n", " ")
        commands += [shlex.split(line, comments=True) for line in body.splitlines()]
    return [c for c in commands if c]


def _check_qpt(args: list[str]) -> None:
    group = typer.main.get_command(app)
    verb = group.get_command(None, args[0])  # type: ignore[arg-type]
    assert verb is not None, f"no verb {args[0]}"
    ctx = verb.make_context(args[0], list(args[1:]))
    if args[0] == "run":  # the pipeline and its --set keys exist in the shipped file
        overrides = dict(parse_override(item) for item in ctx.params["set_"])
        load_config(README.parent / "pipelines.toml").resolve(ctx.params["name"], overrides)


def _check_torchrun(args: list[str]) -> list[str]:
    from torch.distributed.run import get_args_parser

    parsed = get_args_parser().parse_args(args)
    assert parsed.no_python and parsed.training_script == "qpt"
    return parsed.training_script_args


def test_scale_out_commands_parse() -> None:
    commands = _commands()
    seen = set()
    for cmd in commands:
        seen.add(cmd[0])
        if cmd[0] == "qpt":
            _check_qpt(cmd[1:])
        elif cmd[0] == "torchrun":
            _check_qpt(_check_torchrun(cmd[1:]))
        elif cmd[:2] == ["ray", "start"]:
            scripts = pytest.importorskip("ray.scripts.scripts")
            scripts.start.make_context("start", cmd[2:])
        else:
            raise AssertionError(f"README command not checked: {shlex.join(cmd)}")
    assert seen == {"qpt", "torchrun", "ray"}
    assert len(commands) >= 6
