"""End to end on the built-in corpus: accounting against its provenance, report, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.params import CurateParams
from curate.pipeline import apply_dedup, curate
from qpt.stage import StageContext

PHOTOS = ["astronaut", "coffee", "chelsea"]


def _params(**kw) -> CurateParams:
    return CurateParams(source="builtin", builtin_photos=PHOTOS, **kw)


def _manifest(out: Path) -> list[dict]:
    return pq.read_table(out / "manifest.parquet").to_pylist()


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory) -> tuple[Path, dict]:
    from qpt.stages.curate import run_curate

    out = tmp_path_factory.mktemp("builtin")
    ctx = StageContext(pipeline="t", stage="curate", kind="curate", run_dir=out, out_dir=out)
    return out, run_curate(ctx, _params(unit_size=16))


def test_builtin_accounting_matches_provenance(builtin_run) -> None:
    out, summary = builtin_run
    rows = _manifest(out)
    corpus = json.loads((out / "work/corpus/corpus.json").read_text())["files"]
    assert summary["candidates"] == len(rows) == len(corpus)  # corpus.json itself is no candidate
    assert summary["kept"] + summary["rejected"] == summary["candidates"]
    kind = {str(out / "work/corpus" / e["path"]): e["kind"] for e in corpus}
    for row in rows:
        k = kind[row["uri"]]
        if k == "corrupt":
            assert row["reason"] in ("empty", "not_image", "corrupt"), row
        if k == "exact_duplicate" and row["reason"] not in ("too_small",):
            assert row["reason"] in ("duplicate_exact", "") and row["sha256"], row
    exact = [r for r in rows if r["reason"] == "duplicate_exact"]
    assert exact and all(r["dup_of"] for r in exact)
    shas = [r["sha256"] for r in rows]
    assert all(shas.count(r["sha256"]) >= 2 for r in exact)
    kept_keys = {r["key"] for r in rows if r["status"] == "kept"}
    assert all(r["dup_of"] in kept_keys for r in rows if r["dup_of"])
    assert (out / "report.png").stat().st_size > 0 and (out / "rejections.png").stat().st_size > 0


_SLOW_CHILD = """
import sys, time
from pathlib import Path
import curate.measure as m
from curate.params import CurateParams
from curate.pipeline import apply_dedup, curate
real = m.process_unit
def slow(unit, params):
    time.sleep(0.3)
    return real(unit, params)
import curate.pipeline as p
p.process_unit = slow
curate(CurateParams.model_validate_json(sys.argv[2]), Path(sys.argv[1]))
"""


def test_killed_run_resumes_to_the_same_manifest(builtin_run, tmp_path: Path) -> None:
    reference_out, _ = builtin_run
    params = _params(unit_size=16, report=False)
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CHILD, str(out), params.model_dump_json()], env=env
    )
    deadline = time.monotonic() + 60
    while not list((out / "parts").glob("unit-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = len(list((out / "parts").glob("unit-*.parquet")))
    assert 1 <= done and not (out / "manifest.parquet").exists()
    summary = curate(params.model_copy(update={"workers": 2}), out)
    assert summary["units_resumed"] == done < summary["units"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "uri"} for r in rows]  # noqa: E731
    assert strip(_manifest(out)) == strip(_manifest(reference_out))


def test_changed_parameters_do_not_reuse_parts(builtin_run, tmp_path: Path) -> None:
    out = tmp_path / "changed"
    loose = curate(_params(unit_size=16, report=False, min_short_side=0, richness=False), out)
    strict = curate(_params(unit_size=16, report=False, richness=False), out)
    assert strict["units_resumed"] == 0
    assert strict["kept"] < loose["kept"] and "rejected.too_small" not in loose


def test_extra_folders_join_with_distinct_keys_and_missing_ones_are_counted(
    tmp_path: Path,
) -> None:
    from PIL import Image

    roots = [tmp_path / "a", tmp_path / "b"]
    for i, root in enumerate(roots):
        root.mkdir()
        # The same relative name under both roots, different pixels.
        Image.new("RGB", (300, 300), (40 * i, 90, 200)).save(root / "same.png")
    params = CurateParams(
        source="folder",
        path=roots[0],
        extra_folders=[roots[1], tmp_path / "absent"],
        richness=False,
        phash_radius=None,
        report=False,
    )
    summary = curate(params, tmp_path / "out", console=None)
    rows = pq.read_table(tmp_path / "out" / "manifest.parquet").to_pylist()
    assert summary["candidates"] == 2 and summary["extra_folders_missing"] == 1
    assert len({r["key"] for r in rows}) == 2
    assert {Path(r["uri"]).parent.name for r in rows} == {"a", "b"}


def _record(key: str, uri: str, sha: str) -> dict:
    return {"key": key, "uri": uri, "sha256": sha, "phash": None, "width": 64, "height": 64,
            "bytes": 100, "reason": None, "dup_of": None, "clip_score": None}  # fmt: skip


def test_dedup_refuses_a_key_shared_by_two_candidates() -> None:
    # Two byte-identical files under one key: following dup_of from the copy would name the
    # copy itself. The collision is reported instead (before the manifest check would).
    records = [_record("k", "a.png", "s1"), _record("k", "b.png", "s1"), _record("m", "c", "s2")]
    params = CurateParams(source="builtin", phash_radius=None)
    with pytest.raises(ValueError, match=r"key k names two candidates \(a.png and b.png\)"):
        apply_dedup(records, params, None)
    records = [_record("k", "a.png", "s1"), _record("j", "b.png", "s1")]
    apply_dedup(records, params, None)
    assert [r["dup_of"] for r in records] == [None, "k"]


def test_forced_key_collision_in_a_folder_run_is_one_clear_error(tmp_path, monkeypatch) -> None:
    from PIL import Image

    import curate.sources.folder as folder

    src = tmp_path / "src"
    src.mkdir()
    for name in ("a.png", "b.png"):  # identical bytes: exact dedup links them
        Image.new("RGB", (300, 300), (90, 120, 30)).save(src / name)
    monkeypatch.setattr(folder, "make_key", lambda rel, salt="": "same")
    params = CurateParams(source="folder", path=src, richness=False, report=False)
    with pytest.raises(ValueError, match="key same names two candidates"):
        curate(params, tmp_path / "out")
