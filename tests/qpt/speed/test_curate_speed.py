"""The curate end-to-end benchmark runs the real pipeline on the files it is given."""

from __future__ import annotations

from pathlib import Path

from qpt.speed.curate_speed import _corpus, end_to_end, real_photos


def test_end_to_end_curates_a_copy_of_the_files(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    files = _corpus(tmp_path / "c", 3)
    out = end_to_end(files, tmp_path, quick=True, rounds=1)
    assert out["e2e_files"] == 3
    assert out["e2e_curate_per_s"] > 0 and out["e2e_full_decode_per_s"] > 0
    expected = out["e2e_curate_per_s"] / out["e2e_full_decode_per_s"]
    assert abs(out["e2e_curate_vs_full_decode"] - expected) < 1e-9
    manifest = tmp_path / "e2e_curate_0" / "manifest.parquet"
    assert manifest.exists() and not (tmp_path / "e2e_curate_0" / "report.png").exists()
    assert sorted(p.name for p in (tmp_path / "e2e_src").iterdir()) == [
        f"{i:05d}_{f.name}" for i, f in enumerate(files)
    ]


def test_real_photos_follow_qpt_shared_data(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "photos" / "kodak").mkdir(parents=True)
    (tmp_path / "photos" / "kodak" / "a.png").write_bytes(b"x")
    monkeypatch.setenv("QPT_SHARED_DATA", str(tmp_path))
    assert real_photos() == [tmp_path / "photos" / "kodak" / "a.png"]
    monkeypatch.setenv("QPT_SHARED_DATA", str(tmp_path / "absent"))
    assert real_photos() == []
