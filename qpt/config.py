"""``pipelines.toml``: named pipelines of ordered stages, validated on load.

File layout::

    [run]                       # defaults for every pipeline
    default = "default"         # what `qpt run` runs with no name
    seed = 0
    runs_dir = "runs"

    [pipeline.default]
    description = "built-in corpus -> curate -> shard -> pretrain -> bench"

    [[pipeline.default.stage]]  # stages run in the order written
    kind = "curate"             # a stage kind (`qpt run --list-stages`)
    name = "curate"             # optional, defaults to the kind; unique in the pipeline
    source = "builtin"          # every other key is a parameter of the kind
    # inputs = { curate = "curate_b" }  # optional: which earlier stage feeds each input kind
    #                                   # (default: the latest earlier stage of that kind)

    [[pipeline.default.stage]]
    kind = "pretrain"
    recipe = "cpu-smoke"        # starts from the [recipe.cpu-smoke] table below

    [pipeline.default.defaults.pretrain]   # optional: parameters shared by every stage
    batch_size = 8                         # of a kind (a stage's own table wins)

    [pipeline.quick]
    extends = "default"         # same stages ...
    set = { "pretrain.steps" = 20 }   # ... with these parameters changed

    [recipe.cpu-smoke]          # named parameters of one kind, shared by pipelines and
    kind = "pretrain"           # `qpt pretrain --recipe NAME`; a stage (or a `defaults`
    img_size = 96               # table) says `recipe = "NAME"`
    warmup_steps = 10

Precedence, lowest first: the stage's ``recipe``, ``defaults`` of the stage's kind (down the
``extends`` chain), the stage table, each ``set`` down the ``extends`` chain, then the
command line's ``--set stage.key=value``. Every error names the file and the key.
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qpt.options import format_validation_error

CONFIG_ENV = "QPT_PIPELINES"


class _RunDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: str = "default"
    seed: int = 0
    runs_dir: str = "runs"


class _StageEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str
    name: str | None = None
    inputs: dict[str, str] = Field(default_factory=dict)


class _PipelineEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    extends: str | None = None
    seed: int | None = None
    defaults: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stage: list[_StageEntry] = Field(default_factory=list)
    set: dict[str, Any] = Field(default_factory=dict)


class _RecipeEntry(BaseModel):
    model_config = ConfigDict(extra="allow")
    kind: str
    description: str = ""


class _PipelinesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: _RunDefaults = Field(default_factory=_RunDefaults)
    recipe: dict[str, _RecipeEntry] = Field(default_factory=dict)
    pipeline: dict[str, _PipelineEntry] = Field(default_factory=dict)


@dataclass
class ResolvedStage:
    """One stage ready to run: its name, kind and validated parameters."""

    name: str
    kind: str
    params: BaseModel
    inputs: dict[str, str] = field(default_factory=dict)

    def params_dict(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


@dataclass
class ResolvedPipeline:
    """A pipeline with every override applied and every stage validated."""

    name: str
    description: str
    seed: int
    runs_dir: Path
    stages: list[ResolvedStage]
    source: Path


@dataclass
class PipelinesConfig:
    """A loaded and schema-checked ``pipelines.toml``."""

    path: Path
    data: _PipelinesFile

    @property
    def default(self) -> str:
        return self.data.run.default

    def names(self) -> list[str]:
        return list(self.data.pipeline)

    def describe(self, name: str) -> str:
        return self._entry(name).description

    def recipe(self, name: str, kind: str) -> dict[str, Any]:
        """The parameters of recipe ``name`` (a ``[recipe.NAME]`` table) for a ``kind`` stage.

        Raises:
            ValueError: no such recipe, or it is a recipe of another kind.
        """
        entry = self.data.recipe.get(name)
        if entry is None:
            known = ", ".join(r for r, e in self.data.recipe.items() if e.kind == kind) or "none"
            raise ValueError(f"unknown {kind} recipe '{name}' (known: {known})")
        if entry.kind != kind:
            raise ValueError(f"recipe '{name}' is for '{entry.kind}' stages, not '{kind}'")
        return copy.deepcopy(entry.model_extra or {})

    def _entry(self, name: str) -> _PipelineEntry:
        try:
            return self.data.pipeline[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise ValueError(f"{self.path}: unknown pipeline '{name}' (known: {known})") from None

    def resolve(
        self,
        name: str | None = None,
        overrides: dict[str, Any] | None = None,
        seed: int | None = None,
        runs_dir: Path | None = None,
    ) -> ResolvedPipeline:
        """Apply ``extends``/``set`` and ``overrides`` and validate every stage's parameters.

        Args:
            name: pipeline name; ``None`` means ``[run] default``.
            overrides: ``{"stage.key": value}`` from the command line (highest precedence).
            seed, runs_dir: command-line values replacing the file's.

        Raises:
            ValueError: unknown pipeline, stage or key, a cycle in ``extends``, or a
                parameter that does not validate (the message names file and key).
        """
        name = name or self.default
        chain = self._chain(name)
        raw_stages = self._raw_stages(chain, overrides or {})
        resolved: list[ResolvedStage] = []
        for stage_name, raw in raw_stages.items():
            where = f"{self.path}: pipeline.{name} stage '{stage_name}'"
            resolved.append(self._resolve_stage(stage_name, dict(raw), resolved, where))
        entry = self.data.pipeline[name]
        inherited_seed = next(
            (
                self.data.pipeline[p].seed
                for p in reversed(chain)
                if self.data.pipeline[p].seed is not None
            ),
            self.data.run.seed,
        )
        return ResolvedPipeline(
            name=name,
            description=entry.description or self.data.pipeline[chain[0]].description,
            seed=inherited_seed if seed is None else seed,
            runs_dir=Path(runs_dir if runs_dir is not None else self.data.run.runs_dir),
            stages=resolved,
            source=self.path,
        )

    def _raw_stages(self, chain: list[str], overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Stage tables by name with ``defaults``, every ``set`` and ``overrides`` applied."""
        base = chain[0]
        stages = [s.model_dump() for s in self.data.pipeline[base].stage]
        if not stages:
            raise ValueError(f"{self.path}: pipeline.{base} has no [[pipeline.{base}.stage]]")
        by_name: dict[str, dict[str, Any]] = {}
        defaults = self._defaults(chain)
        for index, stage in enumerate(stages):
            stage = {**copy.deepcopy(defaults.get(stage["kind"], {})), **stage}
            stage_name = stage.pop("name") or stage["kind"]
            if stage_name in by_name:
                raise ValueError(
                    f"{self.path}: pipeline.{base}.stage[{index}]: duplicate stage name "
                    f"'{stage_name}' (give one a `name = ...`)"
                )
            by_name[stage_name] = stage
        for link in chain:
            where = f"pipeline.{link}.set"
            for key, value in self.data.pipeline[link].set.items():
                _apply(by_name, key, value, f"{self.path}: {where}")
        for key, value in overrides.items():
            _apply(by_name, key, value, "--set")
        return by_name

    def _resolve_stage(
        self, stage_name: str, raw: dict[str, Any], earlier: list[ResolvedStage], where: str
    ) -> ResolvedStage:
        """Check the stage's inputs, put its recipe under its table, validate its parameters."""
        from qpt.stages import get_stage  # imports the libraries' models (degrade: torch)

        kind_name = raw.pop("kind")
        inputs = raw.pop("inputs")
        names = [s.name for s in earlier]
        for input_kind, source in inputs.items():
            if source not in names:
                raise ValueError(
                    f"{where}: inputs.{input_kind} = '{source}' is not an earlier stage "
                    f"(earlier: {', '.join(names) or 'none'})"
                )
        try:
            model = get_stage(kind_name).params
            if "recipe" in raw:
                raw = {**self.recipe(str(raw.pop("recipe")), kind_name), **raw}
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        try:
            params = model.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"{where}: {format_validation_error(exc)}") from None
        return ResolvedStage(stage_name, kind_name, params, inputs)

    def _defaults(self, chain: list[str]) -> dict[str, dict[str, Any]]:
        """``defaults`` tables by stage kind, merged down ``chain`` (later links win)."""
        merged: dict[str, dict[str, Any]] = {}
        for link in chain:
            for kind, table in self.data.pipeline[link].defaults.items():
                fixed = {"kind", "name", "inputs"} & set(table)
                if fixed:
                    raise ValueError(
                        f"{self.path}: pipeline.{link}.defaults.{kind}: {sorted(fixed)} "
                        "cannot be defaults (they belong to each stage)"
                    )
                merged[kind] = {**merged.get(kind, {}), **table}
        return merged

    def _chain(self, name: str) -> list[str]:
        """``[root base, ..., name]`` following ``extends``."""
        chain = [name]
        entry = self._entry(name)
        while entry.extends is not None:
            if entry.extends in chain:
                cycle = " -> ".join([*chain, entry.extends])
                raise ValueError(f"{self.path}: `extends` cycle: {cycle}")
            chain.append(entry.extends)
            entry = self._entry(entry.extends)
        return chain[::-1]


def _apply(stages: dict[str, dict[str, Any]], key: str, value: Any, where: str) -> None:
    """Set ``stage.param[.sub...] = value`` in the raw stage tables."""
    stage_name, _, path = key.partition(".")
    if not path:
        raise ValueError(f"{where}: '{key}' must look like STAGE.PARAM")
    if stage_name not in stages:
        known = ", ".join(stages)
        raise ValueError(f"{where}: '{key}' names no stage '{stage_name}' (stages: {known})")
    if path in ("kind", "name") or path.startswith("inputs"):
        raise ValueError(f"{where}: '{key}': a stage's kind, name and inputs are fixed")
    table = stages[stage_name]
    *parents, leaf = path.split(".")
    for part in parents:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise ValueError(f"{where}: '{key}': '{part}' is not a table")
    table[leaf] = copy.deepcopy(value)


def parse_override(text: str) -> tuple[str, Any]:
    """``'pretrain.steps=20'`` -> ``('pretrain.steps', 20)``; values are TOML, else strings."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"--set '{text}': expected STAGE.PARAM=VALUE")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return key, value


def pretrain_recipe(name: str, **overrides: Any) -> BaseModel:
    """``PretrainParams`` of the pretrain recipe ``name`` of the found ``pipelines.toml``.

    Raises:
        ValueError: unknown recipe or a parameter that does not validate.
    """
    from qpt.stages import get_stage

    cfg = load_config()
    try:
        table = cfg.recipe(name, "pretrain")
    except ValueError as exc:
        raise ValueError(f"{cfg.path}: {exc}") from None
    try:
        return get_stage("pretrain").params.model_validate({**table, **overrides})
    except ValidationError as exc:
        raise ValueError(f"{cfg.path}: recipe '{name}': {format_validation_error(exc)}") from None


def find_config(path: Path | None = None) -> Path:
    """The ``pipelines.toml`` to use: ``path``, ``$QPT_PIPELINES``, ``./pipelines.toml``, or
    the packaged default (``qpt/pipelines.toml``: in a checkout a link to the repository's
    own ``pipelines.toml``, in a wheel a copy of it)."""
    candidates = [path] if path is not None else []
    if path is None:
        if os.environ.get(CONFIG_ENV):
            candidates.append(Path(os.environ[CONFIG_ENV]))
        candidates += [
            Path("pipelines.toml"),
            Path(__file__).resolve().parent / "pipelines.toml",
        ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{candidates[0]}: no pipelines.toml here (pass --config PATH)")


def load_config(path: Path | None = None) -> PipelinesConfig:
    """Read and schema-check a ``pipelines.toml`` (stage parameters are checked on resolve)."""
    path = find_config(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from None
    try:
        data = _PipelinesFile.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{path}: {format_validation_error(exc)}") from None
    return PipelinesConfig(path=path, data=data)
