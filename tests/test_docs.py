"""The docs run: every command line in the READMEs and ``docs/`` names verbs and options that
exist, every TOML block is a valid ``pipelines.toml``, every Python block runs, and every
package's docstring examples are collected as doctests."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from qpt.config import load_config
from tests.doc_examples import (
    SHELL_LANGS,
    fenced_blocks,
    inline_commands,
    other_command_problem,
    qpt_arguments,
    qpt_help_problem,
    shell_commands,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    ROOT / "train" / "README.md",
    ROOT / "degrade" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
PACKAGES = ("qpt_base", "curate", "train", "bench", "qpt", "degrade")


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for block in fenced_blocks(doc, ROOT):
            if block.lang in SHELL_LANGS:
                found += [(block.where, c) for c in shell_commands(block.text)]
        where = f"{doc.relative_to(ROOT)} (inline)"
        found += [(where, c) for span in inline_commands(doc) for c in shell_commands(span)]
    return found


COMMANDS = _commands()
QPT_LINES = [(w, a) for w, c in COMMANDS if (a := qpt_arguments(c)) is not None]
OTHER_LINES = [(w, c) for w, c in COMMANDS if qpt_arguments(c) is None]


@pytest.mark.parametrize(("where", "arguments"), QPT_LINES, ids=[w for w, _ in QPT_LINES])
def test_documented_qpt_command_exists(where: str, arguments: list[str], capsys) -> None:
    assert qpt_help_problem(arguments, capsys) is None


@pytest.mark.parametrize(("where", "command"), OTHER_LINES, ids=[w for w, _ in OTHER_LINES])
def test_documented_other_command_refers_to_real_things(where: str, command: list[str]) -> None:
    assert other_command_problem(command, ROOT) is None


def test_documented_pipelines_and_recipes_exist(tmp_path: Path) -> None:
    """``qpt run NAME`` and ``--recipe NAME`` name entries of the shipped pipelines.toml or of
    an example in the docs (the parser takes any word there)."""
    configs = [load_config(ROOT / "pipelines.toml")]
    for i, block in enumerate(TOML_BLOCKS):
        (tmp_path / f"{i}.toml").write_text(block.text)
        configs.append(load_config(tmp_path / f"{i}.toml"))
    pipelines = {name for cfg in configs for name in cfg.names()}
    recipes = {name for cfg in configs for name in cfg.data.recipe}
    for where, args in QPT_LINES:
        if args[:1] == ["run"] and len(args) > 1 and not args[1].startswith("-"):
            assert args[1] in pipelines, f"{where}: no pipeline {args[1]}"
        if "--recipe" in args:
            assert args[args.index("--recipe") + 1] in recipes, f"{where}: {args}"


def test_the_docs_quote_commands_of_every_verb() -> None:
    from qpt.cli import VERBS

    documented = {a[0] for _, a in QPT_LINES if a}
    assert set(VERBS) | {"run"} <= documented


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_fenced_block_says_its_language(doc: Path) -> None:
    """An untagged block would hide its commands from the checks above."""
    untagged = [b.where for b in fenced_blocks(doc, ROOT) if not b.lang]
    assert not untagged, f"tag these blocks (bash, toml, text, ...): {untagged}"


TOML_BLOCKS = [b for doc in DOCS for b in fenced_blocks(doc, ROOT) if b.lang == "toml"]


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: b.where)
def test_toml_block_is_a_valid_pipelines_file(block, tmp_path: Path) -> None:
    path = tmp_path / "pipelines.toml"
    path.write_text(block.text)
    cfg = load_config(path)
    for name in cfg.names():
        assert cfg.resolve(name).stages, name


PYTHON_BLOCKS = [b for doc in DOCS for b in fenced_blocks(doc, ROOT) if b.lang == "python"]


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda b: b.where)
def test_python_block_runs(block) -> None:
    # a block may read what the shell commands before it wrote (e.g. a fitted scorer)
    missing = [p for p in re.findall(r"[\"'](runs/[^\"']+)", block.text) if not Path(p).exists()]
    if missing:
        pytest.skip(f"run the commands before it first: {missing} not found")
    exec(compile(block.text, block.where, "exec"), {"__name__": "__doc_example__"})


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run installs and tests exactly as the README's first block tells a user to."""
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    ci = [line for line in lines if line.startswith("python")]
    (first, *_) = fenced_blocks(ROOT / "README.md", ROOT)
    assert ci and all(line in first.text.splitlines() for line in ci), ci


def test_the_checker_rejects_what_does_not_exist(capsys) -> None:
    """The checks above can fail: a typo'd verb, option or subcommand is caught, a value is not
    (example paths need not exist)."""
    (bad_verb,) = shell_commands("qpt curat --source builtin")
    assert "No such command" in qpt_help_problem(qpt_arguments(bad_verb), capsys)
    bad_option = qpt_arguments(["torchrun", "--no-python", "qpt", "pretrain", "--shard", "x"])
    assert "--shard" in qpt_help_problem(bad_option, capsys)
    bad_sub = qpt_arguments([".venv/bin/qpt", "bench", "speed", "degrad"])
    assert qpt_help_problem(bad_sub, capsys) is not None
    assert qpt_help_problem(["degrade", "no/such/dir", "out", "--preset", "kadid"], capsys) is None
    assert "markers" in other_command_problem(["python", "-m", "pytest", "-m", "fast"], ROOT)
    assert other_command_problem(["bash", "scripts/nothing.sh"], ROOT)


def test_every_package_is_doctested() -> None:
    """pytest collects the docstring examples of every package (pyproject's testpaths with
    ``--doctest-modules``), and none is switched off."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    options = options["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert set(options["testpaths"]) == {"tests", *PACKAGES}
    skipped = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "doctest: +SKIP" in line
    ]
    assert not skipped, skipped
