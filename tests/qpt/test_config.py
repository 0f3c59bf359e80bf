"""pipelines.toml loading: precedence of values and one-line errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from qpt.config import load_config, parse_override


def _params(pipeline, name: str) -> dict:
    return next(s for s in pipeline.stages if s.name == name).params_dict()


def test_stages_keep_file_order_and_defaults(pipelines_file: Path) -> None:
    cfg = load_config(pipelines_file)
    pipeline = cfg.resolve()
    assert pipeline.name == "chain"
    assert [s.name for s in pipeline.stages] == ["a", "b", "c"]
    assert _params(pipeline, "c") == {
        "value": 100,
        "label": "from-table",
        "fail": False,
        "nested": {},
    }
    assert pipeline.seed == 7


def test_precedence_table_then_extends_then_command_line(pipelines_file: Path) -> None:
    cfg = load_config(pipelines_file)
    child = cfg.resolve("child")
    assert _params(child, "c")["label"] == "from-extends"
    assert _params(child, "b")["value"] == 20
    grandchild = cfg.resolve("grandchild")
    assert _params(grandchild, "c")["label"] == "from-grandchild"
    assert _params(grandchild, "b")["value"] == 20  # inherited from child
    assert grandchild.seed == 3
    cli = cfg.resolve("grandchild", overrides={"c.label": "from-cli", "a.nested.k": 5}, seed=11)
    assert _params(cli, "c")["label"] == "from-cli"
    assert _params(cli, "a")["nested"] == {"k": 5}
    assert cli.seed == 11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("b.value=20", ("b.value", 20)),
        ("c.label=plain words", ("c.label", "plain words")),
        ('c.label="quoted"', ("c.label", "quoted")),
        ("a.x=[1, 2]", ("a.x", [1, 2])),
        ("a.flag=true", ("a.flag", True)),
        ("a.rate=0.5", ("a.rate", 0.5)),
    ],
)
def test_parse_override_reads_toml_values(text: str, expected: tuple) -> None:
    assert parse_override(text) == expected


def test_parse_override_rejects_missing_equals() -> None:
    with pytest.raises(ValueError, match="STAGE.PARAM=VALUE"):
        parse_override("b.value")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipelines.toml"
    path.write_text(text)
    return path


STAGE = '[pipeline.p]\n[[pipeline.p.stage]]\nkind = "fake"\n'


@pytest.mark.parametrize(
    ("text", "overrides", "fragments"),
    [
        ("[pipeline.p\n", None, ["not valid TOML"]),
        ('[run]\ndefualt = "p"\n' + STAGE, None, ["run.defualt", "unknown key"]),
        (STAGE + "valeu = 3\n", None, ["stage 'fake'", "valeu", "unknown key"]),
        (STAGE + 'value = "many"\n', None, ["value", "integer"]),
        (
            '[pipeline.p]\n[[pipeline.p.stage]]\nkind = "nosuch"\n',
            None,
            ["unknown stage kind 'nosuch'"],
        ),
        ('[pipeline.p]\ndescription = "no stages"\n', None, ["pipeline.p has no"]),
        (
            STAGE + 'value = 1\n[[pipeline.p.stage]]\nkind = "fake"\n',
            None,
            ["duplicate stage name 'fake'"],
        ),
        (STAGE, {"zzz.value": 1}, ["--set", "no stage 'zzz'"]),
        (STAGE, {"fake.kind": "other"}, ["kind, name and inputs are fixed"]),
        (STAGE + '[pipeline.q]\nextends = "r"\n[pipeline.r]\nextends = "q"\n', None, []),
    ],
)
def test_bad_config_is_one_line_naming_file_and_key(
    tmp_path: Path, text: str, overrides: dict | None, fragments: list[str]
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        load_config(path).resolve("p", overrides=overrides)
        if not fragments:  # the extends-cycle case: resolving p is fine, q is not
            load_config(path).resolve("q")
    message = str(info.value)
    assert "\n" not in message
    if overrides is None:  # command-line mistakes name the flag instead of the file
        assert str(path) in message
    for fragment in fragments or ["extends` cycle"]:
        assert fragment in message


def test_unknown_pipeline_lists_known_ones(pipelines_file: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown pipeline 'nope' \(known: chain, child"):
        load_config(pipelines_file).resolve("nope")


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.toml"):
        load_config(tmp_path / "nothere.toml")


def test_shipped_pipelines_file_validates() -> None:
    """Every pipeline in the repository's pipelines.toml resolves (all stage kinds exist)."""
    repo_file = Path(__file__).resolve().parents[2] / "pipelines.toml"
    cfg = load_config(repo_file)
    assert cfg.default in cfg.names()
    for name in cfg.names():
        assert cfg.resolve(name).stages


DEFAULTS = """
[pipeline.p]
[pipeline.p.defaults.fake]
value = 5
label = "shared"
[[pipeline.p.stage]]
kind = "fake"
name = "a"
[[pipeline.p.stage]]
kind = "fake"
name = "b"
label = "own"
[pipeline.q]
extends = "p"
defaults = { fake = { value = 9 } }
set = { "a.label" = "from-set" }
"""


def test_kind_defaults_sit_under_stage_tables_and_sets(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, DEFAULTS))
    p = cfg.resolve("p")
    assert (_params(p, "a")["value"], _params(p, "a")["label"]) == (5, "shared")
    assert (_params(p, "b")["value"], _params(p, "b")["label"]) == (5, "own")
    q = cfg.resolve("q")  # the child's defaults win over the base's, sets over both
    assert (_params(q, "a")["value"], _params(q, "a")["label"]) == (9, "from-set")
    assert _params(q, "b")["label"] == "own"


def test_defaults_cannot_carry_stage_identity(tmp_path: Path) -> None:
    path = _write(tmp_path, DEFAULTS.replace("value = 5\n", 'value = 5\nname = "x"\n', 1))
    with pytest.raises(ValueError, match=r"pipeline.p.defaults.fake: \['name'\] cannot be"):
        load_config(path).resolve("p")


REPO_FILE = Path(__file__).resolve().parents[2] / "pipelines.toml"

# The default pipeline's pretrain table as written out in full before recipes existed (the
# model is qpt's HiViT-nano MAE, called mae_hivit_nano before the authors' layouts took the name).
DEFAULT_PRETRAIN_BEFORE_RECIPES = dict(
    model="mae_qpt_hivit_nano", img_size=96, batch_size=16, steps=300, warmup_steps=20, blr=1.5e-3,
    time_budget_s=240, ckpt_every=100, image_every=100, log_every=5, num_workers=1,
    cpu_threads=1, crops_per_image=4, device="cpu",
)  # fmt: skip


def test_recipes_keep_the_shipped_pipelines_parameters() -> None:
    from train.config import PretrainParams

    cfg = load_config(REPO_FILE)
    expected = PretrainParams(**DEFAULT_PRETRAIN_BEFORE_RECIPES).model_dump(mode="json")
    assert _params(cfg.resolve("default"), "pretrain") == expected
    ablation = {**DEFAULT_PRETRAIN_BEFORE_RECIPES, "steps": 2000, "warmup_steps": 100}
    ablation |= dict(time_budget_s=600, ckpt_every=500, image_every=500, log_every=20)
    for variant in ("pt_qpt", "pt_nodeg", "pt_nomsff", "pt_uncurated", "pt_clean_target"):
        params = _params(cfg.resolve("ablation"), variant)
        assert {k: params[k] for k in ablation} == PretrainParams(**ablation).model_dump(
            mode="json", include=set(ablation)
        )
    assert _params(cfg.resolve("hivit-base-8gpu"), "pretrain")["model"] == "mae_hivit_base"


RECIPES = """
[recipe.small]
kind = "fake"
value = 3
label = "recipe"
[recipe.other]
kind = "pretrain"
[[pipeline.p.stage]]
kind = "fake"
name = "a"
recipe = "small"
label = "own"
"""


def test_a_stage_starts_from_its_recipe_and_its_own_keys_win(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, RECIPES))
    assert _params(cfg.resolve("p"), "a") == {**_params(cfg.resolve("p"), "a"), "value": 3}
    assert _params(cfg.resolve("p"), "a")["label"] == "own"
    assert _params(cfg.resolve("p", overrides={"a.value": 4}), "a")["value"] == 4
    with pytest.raises(ValueError, match=r"stage 'a': unknown fake recipe 'nope' \(known: small\)"):
        cfg.resolve("p", overrides={"a.recipe": "nope"})
    with pytest.raises(ValueError, match="recipe 'other' is for 'pretrain' stages, not 'fake'"):
        cfg.resolve("p", overrides={"a.recipe": "other"})


def test_pretrain_recipes_come_from_pipelines_toml(monkeypatch) -> None:
    from qpt.config import pretrain_recipe

    monkeypatch.setenv("QPT_PIPELINES", str(REPO_FILE))
    monkeypatch.chdir(REPO_FILE.parent)
    assert pretrain_recipe("cpu-smoke").model == "mae_qpt_hivit_nano"
    assert pretrain_recipe("hivit-base-8gpu", steps=7000).steps == 7000
    with pytest.raises(ValueError, match="unknown pretrain recipe 'nope'"):
        pretrain_recipe("nope")
