"""Read the examples out of Markdown and help texts, and check a ``qpt`` command line.

A command line is checked without running it: ``qpt ARGS --help`` goes through the real
parser, which routes ``ARGS`` to its verb and rejects a verb or an option that does not exist
before the eager ``--help`` prints the verb's usage. Values are not converted, so example
paths need not exist.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
INLINE_QPT = re.compile(r"`(qpt [^`]+)`")
SHELL_LANGS = {"bash", "sh", "shell", "console"}


@dataclass(frozen=True)
class Block:
    """A fenced block: its file (relative to the repository), language tag, text, first line."""

    name: str
    lang: str
    text: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.name}:{self.line}"


def fenced_blocks(path: Path, root: Path) -> list[Block]:
    """Every fenced block of ``path`` (indented fences, as in list items, included), named by
    its path relative to ``root``."""
    blocks, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, lang = match.groups()
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = [line.removeprefix(indent) for line in lines[i + 1 : end]]
        name = str(path.relative_to(root))
        blocks.append(Block(name, lang, "\n".join(body), i + 2))
        i = end + 1
    return blocks


def inline_commands(path: Path) -> list[str]:
    """The ``qpt ...`` command lines quoted inline in the prose (outside fenced blocks), each
    on one line even where the prose wraps it."""
    prose = re.sub(r"```\w*\n.*?```", "", path.read_text(), flags=re.S)
    return [" ".join(span.split()) for span in INLINE_QPT.findall(prose)]


def shell_commands(text: str) -> Iterator[list[str]]:
    """The simple commands of a shell snippet: continuations joined, comments dropped,
    split at ``&&``, ``||``, ``;`` and ``|``."""
    text = text.replace("\\\n", " ")
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for token in lexer:
            if token in ("&&", "||", ";", "|", "&"):
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def qpt_arguments(command: list[str]) -> list[str] | None:
    """The arguments given to ``qpt`` by ``command``, or None when it does not run qpt.

    Recognised launches: ``qpt``, ``path/to/bin/qpt``, ``python -m qpt`` and
    ``torchrun ... --no-python qpt``; leading ``NAME=value`` assignments are skipped.
    """
    while command and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", command[0]):
        command = command[1:]
    if not command:
        return None
    program = Path(command[0]).name
    if program == "qpt":
        return command[1:]
    if program.startswith("python") and command[1:3] == ["-m", "qpt"]:
        return command[3:]
    if program == "torchrun" and "--no-python" in command:
        rest = command[command.index("--no-python") + 1 :]
        script = next(i for i, token in enumerate(rest) if not token.startswith("-"))
        return rest[script + 1 :] if rest[script] == "qpt" else None
    return None


def qpt_help_problem(arguments: list[str], capsys) -> str | None:
    """None when ``qpt ARGUMENTS`` names an existing verb and existing options, else why not."""
    from qpt.cli import main

    code = main([*arguments, "--help"])
    out, err = capsys.readouterr()
    if code == 0 and "Usage" in out:
        return None
    return f"qpt {shlex.join(arguments)}: exit {code}: {err.strip() or out.strip()[:200]}"


def other_command_problem(command: list[str], root: Path) -> str | None:
    """None when a documented non-qpt command refers to things that exist in ``root``:
    ``python -m MODULE`` an importable module, pytest's ``-m MARK`` a declared marker, pip's
    ``.[EXTRA,...]`` declared extras, ``bash FILE`` a file; anything else is unknown."""
    import importlib.util
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())
    program, args = Path(command[0]).name, command[1:]
    if program.startswith("python") and args[:1] == ["-m"]:
        module = args[1]
        if importlib.util.find_spec(module) is None:
            return f"{shlex.join(command)}: no module {module}"
        if module == "pytest":
            markers = project["tool"]["pytest"]["ini_options"]["markers"]
            declared = {m.split(":")[0] for m in markers}
            marks = {args[i + 1] for i, a in enumerate(args) if a == "-m" and i > 1}
            if marks - declared:
                return f"{shlex.join(command)}: undeclared markers {sorted(marks - declared)}"
        return None
    if program == "pip" and args[:1] == ["install"]:
        extras = {e for a in args if a.startswith(".[") for e in a[2:-1].split(",")}
        missing = extras - set(project["project"].get("optional-dependencies", {}))
        return f"{shlex.join(command)}: no extras {sorted(missing)}" if missing else None
    if program == "bash":
        return None if (root / args[0]).is_file() else f"{shlex.join(command)}: no such file"
    if program == "ray":  # held to Ray's own argument parser in tests/qpt/test_readme_commands.py
        return None
    return f"{shlex.join(command)}: a command the docs test does not know how to check"
