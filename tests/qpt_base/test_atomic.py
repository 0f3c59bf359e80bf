"""qpt_base.atomic: writes appear whole or not at all; temporaries are per process."""

from __future__ import annotations

import os

import pytest

from qpt_base import (
    atomic_path,
    atomic_write_json,
)
from qpt_base.atomic import sweep_temporaries, temporary_name


def test_atomic_path_renames_on_success_and_cleans_on_failure(tmp_path):
    out = tmp_path / "x.json"
    atomic_write_json(out, {"a": 1})
    assert out.read_text() == '{\n  "a": 1\n}\n'
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert out.read_text().startswith("{") and os.listdir(tmp_path) == ["x.json"]


def test_temporary_names_are_unique_and_swept(tmp_path):
    out = tmp_path / "m.parquet"
    a, b = temporary_name(out), temporary_name(out)
    assert a != b and str(os.getpid()) in a.name
    a.write_text("left by a dead writer")
    (tmp_path / "keep.txt").write_text("x")
    assert sweep_temporaries(tmp_path) == [a]
    assert sorted(os.listdir(tmp_path)) == ["keep.txt"]
