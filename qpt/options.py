"""Command-line options generated from a stage's parameter model (one signature, API and CLI).

Each field of the model becomes one option of the verb: ``--kebab-name`` (or the flags in the
field's ``json_schema_extra={"cli": ...}``), the field's description as help and its default as
the shown default. Booleans are ``--name/--no-name`` switches, lists are repeatable options,
and an optional setting is switched off with the word ``none``. Other values are read as TOML
(``3``, ``1e-3``, ``[0.9, 0.95]``), like ``--set``; text fields take the text as written.

Only the options the user typed reach the model, so the model's defaults are the only ones,
and validation errors name the option as typed:

>>> from pydantic import BaseModel, Field
>>> class ResizeParams(BaseModel):
...     max_side: int | None = Field(1024, ge=16, description="Longest side after resizing.")
...     sharpen: bool = Field(False, description="Sharpen after resizing.")
>>> app = typer.Typer()
>>> @app.command()
... @model_options(ResizeParams)
... def resize(*, given: dict[str, Any]) -> None:
...     print(given, validate_params(ResizeParams, given, given))
>>> command = typer.main.get_command(app)
>>> command.main(["--max-side", "512", "--sharpen"], standalone_mode=False)
{'max_side': 512, 'sharpen': True} max_side=512 sharpen=True
>>> command.main(["--max-side", "none"], standalone_mode=False)
{'max_side': None} max_side=None sharpen=False
>>> command.main(["--max-side", "8"], standalone_mode=False)
Traceback (most recent call last):
ValueError: --max-side: Input should be greater than or equal to 16
"""

from __future__ import annotations

import inspect
import re
import tomllib
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

OFF_WORDS = ("none", "off")
PANEL = "Parameters"  # the help panel of the generated options, apart from the verb's own
_TYPED_SOURCES = ("COMMANDLINE", "ENVIRONMENT")  # names of click's ParameterSource
_CTX = "_options_ctx"


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def flags_of(name: str, field: FieldInfo) -> list[str]:
    """The command-line flags of field ``name`` (the first is the one errors name)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    cli = extra.get("cli")
    if cli is None:
        flag = "--" + name.replace("_", "-")
        return [f"{flag}/--no-{flag[2:]}" if field.annotation is bool else flag]
    return [cli] if isinstance(cli, str) else list(cli)


def _error_name(name: str, field: FieldInfo) -> str:
    return flags_of(name, field)[0].split("/")[0]


def _metavar(inner: Any) -> str:
    if typing.get_origin(inner) is Literal:
        return "<" + "|".join(str(a) for a in typing.get_args(inner)) + ">"
    return {int: "<int>", float: "<float>", str: "<str>", Path: "<path>"}.get(inner, "<toml>")


def _shown_default(field: FieldInfo) -> str | None:
    """The model's default as the help shows it (never read back: only typed values count)."""
    default = field.get_default(call_default_factory=True)
    return None if default in (None, PydanticUndefined) else str(default)


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    """One keyword-only parameter whose default is the ``typer.Option`` of ``field``."""
    inner, optional = _unwrap_optional(field.annotation)
    help_text = field.description or ""
    if field.annotation is bool:
        annotation: Any = bool
        default: Any = field.get_default()
        extra: dict[str, Any] = {}
    elif typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner) or (str,)
        annotation, default = list[str], None
        extra = {"metavar": _metavar(item)}
        help_text += " Repeatable."
    else:
        annotation, default = str, _shown_default(field)
        extra = {"metavar": _metavar(inner)}
        if optional and default is not None and "none" not in help_text:
            help_text += " (none: off)"
    option = typer.Option(
        default, *flags_of(name, field), help=help_text.strip(), rich_help_panel=PANEL, **extra
    )
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=annotation)  # fmt: skip


def _convert(field: FieldInfo, value: Any) -> Any:
    """A typed option value -> what the model validates (``none``, TOML, or the text)."""
    inner, optional = _unwrap_optional(field.annotation)
    if isinstance(value, bool) or not isinstance(value, str):
        return list(value) if isinstance(value, tuple) else value
    if optional and value.strip().lower() in OFF_WORDS:
        return None
    if inner in (str, Path) or typing.get_origin(inner) is Literal:
        return value
    try:
        return tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return value


def model_options(
    model: type[BaseModel], *, exclude: Iterable[str] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a typer command with one option per field of ``model``.

    The command declares its own parameters (arguments, ``--out``, ``--json``, ...) and a
    keyword ``given``: the fields the user typed, by field name, converted for the model. A
    field named like one of the command's own parameters, or in ``exclude``, gets no option.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(fn, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != "given"]
        skip = set(exclude) | {p.name for p in own}
        fields = {n: f for n, f in model.model_fields.items() if n not in skip}

        own_ctx = next((p.name for p in own if p.annotation is typer.Context), None)

        def command(**kwargs: Any) -> Any:
            ctx = kwargs[own_ctx] if own_ctx else kwargs.pop(_CTX)
            given = {}
            for name, field in fields.items():
                value = kwargs.pop(name)
                if getattr(ctx.get_parameter_source(name), "name", None) in _TYPED_SOURCES:
                    given[name] = _convert(field, value)
            return fn(**kwargs, given=given)

        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__module__, command.__qualname__ = fn.__module__, fn.__qualname__
        positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
        options = [_option(n, f) for n, f in fields.items()]
        if own_ctx is None:
            options.append(inspect.Parameter(_CTX, inspect.Parameter.KEYWORD_ONLY,
                                             annotation=typer.Context))  # fmt: skip
        command.__signature__ = signature.replace(parameters=[*positional, *keyword, *options])  # type: ignore[attr-defined]
        return command

    return decorate


def format_validation_error(
    exc: ValidationError,
    names: dict[str, str] | None = None,
    quoted: dict[str, str] | None = None,
    hints: dict[str, str] | None = None,
) -> str:
    """A pydantic error as one line: ``key: message; key: message``.

    ``names`` renames keys (field -> ``--flag``); ``quoted`` renames the fields a model-level
    message quotes (``needs 'metadata'`` -> ``needs --metadata``); ``hints`` follow the
    message of their field.
    """
    names, hints = names or {}, hints or {}
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        if loc and loc[0] in hints:
            message += hints[loc[0]]
        if loc and loc[0] in names:
            parts.append(f"{names[loc[0]]}: {message}")
        elif loc:
            parts.append(f"{'.'.join(loc)}: {message}")
        else:
            for field, flag in (quoted or {}).items():
                message = re.sub(rf"'{re.escape(field)}'", flag, message)
            parts.append(message)
    return "; ".join(parts)


def validate_params(model: type[BaseModel], data: dict[str, Any], given: Iterable[str] = ()):
    """``model`` validated from ``data``; errors on fields in ``given`` name their flag.

    Raises:
        ValueError: one line naming each bad option (or key) and why.
    """
    fields = model.model_fields
    flags = {n: _error_name(n, f) for n, f in fields.items()}
    names = {n: flags[n] for n in given if n in flags}
    # 0 and -1 meant "off" for some options once; say how it is spelled now
    hints = {
        n: " (none switches it off)"
        for n in names
        if _unwrap_optional(fields[n].annotation)[1] and data.get(n) in (0, -1)
    }
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(format_validation_error(exc, names, flags, hints)) from None
