from __future__ import annotations

from pathlib import Path

import pytest

from qpt.stages import StageKind, register_stage
from tests.qpt.fake_stages import FakeParams, run_fake

register_stage(StageKind("fake", FakeParams, run_fake, "test stage"))

PIPELINES = """
[run]
default = "chain"
seed = 7
runs_dir = "{runs}"

[pipeline.chain]
description = "three fake stages"

[[pipeline.chain.stage]]
kind = "fake"
name = "a"
value = 1

[[pipeline.chain.stage]]
kind = "fake"
name = "b"
value = 10

[[pipeline.chain.stage]]
kind = "fake"
name = "c"
value = 100
label = "from-table"

[pipeline.child]
extends = "chain"
set = {{ "c.label" = "from-extends", "b.value" = 20 }}

[pipeline.grandchild]
extends = "child"
seed = 3
set = {{ "c.label" = "from-grandchild" }}
"""


@pytest.fixture
def pipelines_file(tmp_path: Path) -> Path:
    path = tmp_path / "pipelines.toml"
    path.write_text(PIPELINES.format(runs=tmp_path / "runs"))
    return path
