"""The TOML examples in the stage and config docstrings parse and validate with the schema."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import qpt.config
from qpt.config import load_config
from qpt.stages import ablation_report, bench, corpus, curate, degrade, finetune, pretrain, score

REPO_FILE = Path(__file__).resolve().parents[2] / "pipelines.toml"


def toml_examples(doc: str) -> list[str]:
    """The indented literal blocks that follow a line ending in ``::``."""
    blocks, lines = [], doc.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip().endswith("::"):
            body = []
            for follow in lines[i + 1 :]:
                if follow.strip() and not follow.startswith("    "):
                    break
                body.append(follow)
            blocks.append(textwrap.dedent("\n".join(body)).strip())
    return blocks


@pytest.mark.parametrize(
    "module",
    [corpus, curate, degrade, pretrain, bench, finetune, score, ablation_report],
    ids=lambda m: m.__name__,
)
def test_stage_docstring_example_resolves(module, tmp_path: Path) -> None:
    (example,) = toml_examples(module.__doc__)
    # beside the shipped file, so that the recipes it names exist
    path = tmp_path / "pipelines.toml"
    path.write_text(REPO_FILE.read_text() + "\n" + example + "\n")
    stages = load_config(path).resolve("demo").stages
    kinds = {s.kind for s in stages}
    assert module.__name__.rsplit(".", 1)[1] in kinds | {"curate"}


def test_config_docstring_example_resolves(tmp_path: Path) -> None:
    (example,) = toml_examples(qpt.config.__doc__)
    path = tmp_path / "pipelines.toml"
    path.write_text(example + "\n")
    cfg = load_config(path)
    pretrain_of = {name: cfg.resolve(name).stages[1].params for name in ("default", "quick")}
    assert (pretrain_of["default"].img_size, pretrain_of["default"].batch_size) == (96, 8)
    assert (pretrain_of["default"].steps, pretrain_of["quick"].steps) == (1000, 20)


def test_readme_pipelines_example_resolves(tmp_path: Path) -> None:
    readme = (REPO_FILE.parent / "README.md").read_text()
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "pipelines.toml"
    path.write_text(example)
    cfg = load_config(path)
    quick = {s.kind: s.params for s in cfg.resolve("quick").stages}
    assert (quick["pretrain"].img_size, quick["pretrain"].steps) == (96, 20)
