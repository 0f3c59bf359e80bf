"""Every example command line in a verb's ``--help`` names a verb and options that exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer

from qpt.cli import app
from tests.doc_examples import qpt_arguments, qpt_help_problem, shell_commands


def _commands(command: Any, path: str, parent: Any = None) -> list[tuple[str, Any]]:
    """``(path, command)`` for ``command`` and every subcommand under it."""
    found = [(path, command)]
    if hasattr(command, "list_commands"):
        ctx = command.context_class(command, info_name=path.rsplit(" ", 1)[-1], parent=parent)
        for name in command.list_commands(ctx):
            found += _commands(command.get_command(ctx, name), f"{path} {name}", ctx)
    return found


def _examples() -> list[tuple[str, list[str]]]:
    found = []
    for path, command in _commands(typer.main.get_command(app), "qpt"):
        lines = re.findall(r"^\s*(qpt .*?)$", (command.help or "").replace("\\\n", " "), re.M)
        for i, line in enumerate(lines):
            found += [(f"{path}[{i}]", qpt_arguments(c)) for c in shell_commands(line)]
    return found


EXAMPLES = _examples()


def test_every_verb_with_subcommands_shows_examples() -> None:
    assert {where.split("[")[0] for where, _ in EXAMPLES} >= {
        "qpt", "qpt run", "qpt curate", "qpt shard", "qpt pretrain", "qpt bench",
        "qpt degrade", "qpt convert",
    }  # fmt: skip


@pytest.mark.parametrize(("where", "arguments"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_help_example_exists(where: str, arguments: list[str], capsys) -> None:
    assert qpt_help_problem(arguments, capsys) is None


def test_help_examples_name_shipped_pipelines_and_recipes() -> None:
    from qpt.config import load_config

    shipped = load_config(Path(__file__).resolve().parents[2] / "pipelines.toml")
    for where, args in EXAMPLES:
        if args[:1] == ["run"] and len(args) > 1 and not args[1].startswith("-"):
            assert args[1] in shipped.names(), f"{where}: no pipeline {args[1]}"
        if "--recipe" in args:
            assert args[args.index("--recipe") + 1] in shipped.data.recipe, f"{where}: {args}"
