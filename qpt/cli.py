"""The ``qpt`` command line: one verb per pipeline stage, plus ``run`` for whole pipelines.

Verb modules live in ``qpt/commands/``; each exposes ``register(app)``.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType

import typer
import typer.exceptions

from qpt import __version__
from qpt.commands import (
    bench_cmd,
    convert_cmd,
    curate_cmd,
    degrade_cmd,
    finetune_cmd,
    pretrain_cmd,
    run_cmd,
    score_cmd,
)

HELP = """\
[bold]qpt[/bold]: quality- and aesthetics-aware pretraining (QPT V2) as a toolkit.

Curate a corpus, degrade it on the fly, pretrain a masked-image-modelling backbone on it and score that backbone on IQA / IAA / VQA benchmarks.

[bold]Start here[/bold]

\b
  qpt run                      # the default pipeline on the built-in corpus (no download)
  qpt run --list               # every named pipeline in pipelines.toml
  qpt curate --help            # one stage at a time

Errors from bad input are one line and exit code 2; set QPT_DEBUG=1 for tracebacks.
"""

app = typer.Typer(
    name="qpt",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# verb -> the command module that registers it (one module may register several verbs)
VERBS: dict[str, ModuleType] = {
    "curate": curate_cmd,
    "shard": curate_cmd,
    "pretrain": pretrain_cmd,
    "bench": bench_cmd,
    "degrade": degrade_cmd,
    "convert": convert_cmd,
    "finetune": finetune_cmd,
    "score": score_cmd,
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"qpt {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """qpt: quality- and aesthetics-aware pretraining (QPT V2) as a toolkit."""


def _register_all() -> None:
    run_cmd.register(app)
    for module in dict.fromkeys(VERBS.values()):
        module.register(app)


_register_all()

USER_ERRORS = (ValueError, FileNotFoundError, PermissionError, IsADirectoryError)
# typer >= 0.29 ships its own click; its usage errors derive from TyperException.
CLI_ERRORS = (typer.exceptions.TyperException,)


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``qpt`` console script; returns the exit code.

    User mistakes (bad flags, bad config, missing files) print one ``error: ...`` line and
    exit 2; an interrupt exits 130. Anything else is a bug and keeps its traceback.
    """
    # torch backs CPU buffers of 2 MB and more with huge pages when this is set before its
    # first large allocation: far fewer page faults for fresh batch-sized tensors
    # (docs/measured.md)
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    command = typer.main.get_command(app)
    debug = bool(os.environ.get("QPT_DEBUG"))
    try:
        result = command.main(args=argv, prog_name="qpt", standalone_mode=False)
    except CLI_ERRORS as exc:
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = " ".join(exc.format_message().split())
        if not message:  # `qpt` alone: help was printed, nothing went wrong
            return 0
        _err(f"{where}{message}")
        return getattr(exc, "exit_code", 2)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("interrupted (rerun the same command to resume)", err=True)
        return 130
    except USER_ERRORS as exc:
        if debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in message:
            message = f"{exc.filename}: {message}"
        _err(message)
        return 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
