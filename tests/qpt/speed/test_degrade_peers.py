"""``qpt bench speed degrade --peers``: degrade against albumentations, imagecorruptions and
kornia. Runs on a tiny batch when the peers are installed (``qpt[peers]``), else skips; the
missing-peer message is tested either way."""

from __future__ import annotations

import json
import math

import pytest

from qpt.cli import main
from qpt.speed import degrade_peers


def _peers_or_skip() -> None:
    try:
        degrade_peers.load_peers()
    except degrade_peers.PeersMissing:
        pytest.skip("peer libraries not installed (pip install 'qpt[peers]')")


def test_missing_peers_is_one_line_and_exit_2(capsys, monkeypatch) -> None:
    def missing() -> None:
        raise degrade_peers.PeersMissing("peer libraries missing (albumentations): x")

    monkeypatch.setattr(degrade_peers, "load_peers", missing)
    code = main(["bench", "speed", "degrade", "--peers"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == ["error: peer libraries missing (albumentations): x"]


def test_real_missing_message_names_the_extra(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_albumentations(name: str, *a, **k):
        if name.startswith("albumentations"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_albumentations)
    monkeypatch.delitem(__import__("sys").modules, "albumentations", raising=False)
    with pytest.raises(degrade_peers.PeersMissing, match=r"albumentations.*qpt\[peers\]"):
        degrade_peers.load_peers()


def test_table_ratios_come_from_measured_rates(tmp_path) -> None:
    _peers_or_skip()
    ops = ["JPEG", "contrast"]
    result = degrade_peers.run(batch=2, size=32, repeats=1, ops=ops)
    rows = result["rows"]
    assert [(r["op"], r["dtype"]) for r in rows] == [
        (op, dt) for op in ops for dt in degrade_peers.DTYPES
    ]
    for r in rows:
        peers = {k: v for k, v in r["rates"].items() if k != "degrade"}
        assert peers and all(v > 0 for v in r["rates"].values())
        assert r["fastest_peer"] == max(peers, key=peers.get)
        assert r["ratio"] == pytest.approx(r["rates"]["degrade"] / max(peers.values()))
    # imagecorruptions' JPEG takes PIL images: uint8 only; kornia takes float batches only
    by = {(r["op"], r["dtype"]): r["rates"] for r in rows}
    assert "imagecorruptions" in by[("JPEG", "uint8")]
    assert "imagecorruptions" not in by[("JPEG", "float")]
    assert "kornia" in by[("contrast", "float")] and "kornia" not in by[("contrast", "uint8")]
    logs = [math.log(r["ratio"]) for r in rows]
    assert result["geomean"] == pytest.approx(math.exp(sum(logs) / len(logs)))
    assert result["behind"] == sum(r["ratio"] < 1 for r in rows)
    text = degrade_peers.report(result)
    assert "geometric mean" in text and text.count("\n") == len(rows) + 5
    # what each peer computes, against degrade's output: imagecorruptions' JPEG (PIL,
    # 4:2:0) is the same file; kornia's contrast is degrade's (around the mean luma)
    agree = {(r["op"], r["dtype"]): r["agreement"] for r in rows}
    assert agree[("JPEG", "uint8")]["imagecorruptions"]["max_abs"] == 0
    assert agree[("contrast", "float")]["kornia"]["psnr_db"] >= 60
    jpeg8 = next(r for r in rows if (r["op"], r["dtype"]) == ("JPEG", "uint8"))
    assert jpeg8["fastest_same_peer"] == "imagecorruptions"  # albumentations' file differs
    assert jpeg8["ratio_same"] == pytest.approx(
        jpeg8["rates"]["degrade"] / jpeg8["rates"]["imagecorruptions"]
    )
    png = tmp_path / "ratios.png"
    degrade_peers.chart(result, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.dumps(result)  # --json prints it as is


def test_every_case_runs_with_every_peer() -> None:
    """All 24 ops, both input types, every peer: each runs on a small batch and each
    deterministic row says what its peers compute (the shims hold: imagecorruptions' fog
    needs NumPy 1's float_)."""
    _peers_or_skip()
    result = degrade_peers.run(batch=2, size=64, repeats=1)
    rows = result["rows"]
    assert len(rows) == 2 * len(degrade_peers.cases(degrade_peers.load_peers())) == 48
    for r in rows:
        assert all(v > 0 for v in r["rates"].values()), r["op"]
        if r["agreement"] is not None:
            assert set(r["agreement"]) == set(r["rates"]) - {"degrade"}
    same = {(r["op"], r["dtype"]): r["fastest_same_peer"] for r in rows}
    assert same[("brightness", "float")] == "imagecorruptions"  # ImageNet-C's operator
    assert same[("gamma", "float")] == "albumentations"


def test_imagecorruptions_gaussian_blur_runs_through_the_shim() -> None:
    _peers_or_skip()
    import numpy as np

    ic = degrade_peers.load_peers()["imagecorruptions"]
    im = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = ic.gaussian_blur(im, 2)
    assert out.shape == im.shape and out.std() < im.std()
