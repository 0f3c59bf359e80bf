"""SA-1B tars in their real format (``sa_N.jpg`` + ``sa_N.json``), however the tar was made.

LAION + img2dataset: ``test_laion.py``."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.params import CurateParams
from curate.pipeline import curate
from tests.curate.conftest import add_member, encode, sa1b_json, sa1b_tar


@pytest.fixture(scope="module")
def sa1b(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("sa1b")
    ims = list(photos.values())
    items = []
    for i, im in enumerate(ims[:4]):
        h, w = im.shape[:2]
        items.append((f"sa_{i + 1}", encode(im), sa1b_json(f"sa_{i + 1}", w, h, 10 + 30 * i)))
    items.append(("sa_90", encode(ims[4]), None))  # annotation JSON missing
    items.append(("sa_91", encode(ims[4]), {"image": {}}))  # invalid annotation JSON
    items.append(("sa_92", None, sa1b_json("sa_92", 10, 10, 1)))  # no image member
    sa1b_tar(root / "sa_000000.tar", items)
    # A second tar cut in the middle of a member (a broken download).
    other = [
        (f"sa_{100 + k}", encode(ims[k], quality=70), sa1b_json(f"sa_{100 + k}", 1, 1, 50))
        for k in (4, 5)
    ]
    whole = sa1b_tar(root / "whole.tar", other).read_bytes()
    (root / "sa_000001.tar").write_bytes(whole[: len(whole) * 3 // 4])
    (root / "whole.tar").unlink()
    return root


def test_sa1b_exact_richness_and_broken_members(sa1b: Path, tmp_path: Path) -> None:
    params = CurateParams(source="sa1b", path=sa1b, min_short_side=0, min_richness=35)
    summary = curate(params, tmp_path / "out")
    assert (tmp_path / "out/rejections.png").exists()  # thumbnails read from the broken tar too
    rows = pq.read_table(tmp_path / "out/manifest.parquet").to_pylist()
    assert summary["candidates"] == len(rows)
    first = [r for r in rows if r["uri"].endswith("sa_000000.tar")]
    by_stem = {r["member"].split(".")[0] or r["key"].split("-")[0]: r for r in first}
    assert [by_stem[f"sa_{i}"]["richness"] for i in (1, 2, 3, 4)] == [10.0, 40.0, 70.0, 100.0]
    assert all(by_stem[f"sa_{i}"]["richness_exact"] for i in (1, 2, 3, 4))
    assert by_stem["sa_1"]["reason"] == "low_richness"
    assert [by_stem[f"sa_{i}"]["status"] for i in (2, 3, 4)] == ["kept"] * 3
    assert by_stem["sa_90"]["reason"] == by_stem["sa_91"]["reason"] == "bad_annotation"
    assert by_stem["sa_92"]["reason"] == "unreadable"
    # The cut tar: the sample before the break is read, the broken one is reported.
    second = [r for r in rows if r["uri"].endswith("sa_000001.tar")]
    assert second and second[-1]["reason"] == "unreadable"
    assert "broken tar" in second[-1]["detail"]
    assert len({r["key"] for r in rows}) == len(rows)
    assert np.isfinite([r["richness"] for r in first if r["richness"] is not None]).all()


def test_sa1b_kept_rows_shard_even_from_a_broken_tar(sa1b: Path, tmp_path: Path) -> None:
    from curate.params import ShardParams
    from curate.shard import write_shards

    params = CurateParams(source="sa1b", path=sa1b, min_short_side=0, richness=False, report=False)
    summary = curate(params, tmp_path / "c")
    rows = pq.read_table(tmp_path / "c/manifest.parquet").to_pylist()
    assert any(r["status"] == "kept" and r["uri"].endswith("sa_000001.tar") for r in rows)
    shards = write_shards(tmp_path / "c/manifest.parquet", tmp_path / "s", ShardParams())
    assert shards["samples"] == summary["kept"]


def _folder_tar(path: Path, members: list[tuple[str, bytes]], folder: str = "sa_000000") -> Path:
    """A tar as ``tar cf`` makes it from an extracted folder: the folder, then its files in
    the order given (directory order, not pair by pair)."""
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(folder)
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, data in members:
            add_member(tar, f"{folder}/{name}", data)
    return path


@pytest.mark.parametrize("order", ["jpgs_then_jsons", "shuffled"])
def test_sa1b_pairs_members_whatever_their_order(photos, tmp_path: Path, order: str) -> None:
    ims = list(photos.values())
    pairs = {}
    for i, im in enumerate(ims[:4]):
        h, w = im.shape[:2]
        info = sa1b_json(f"sa_{i + 1}", w, h, 10 * (i + 1))
        pairs[i + 1] = (encode(im), json.dumps(info).encode())
    members = [(f"sa_{n}.jpg", jpg) for n, (jpg, _) in pairs.items()]
    members += [(f"sa_{n}.json", js) for n, (_, js) in pairs.items()]
    members.append(("sa_50.jpg", encode(ims[4])))  # an image whose JSON is missing
    members.append(("sa_60.json", json.dumps(sa1b_json("sa_60", 8, 8, 3)).encode()))  # no image
    if order == "shuffled":
        members = [members[i] for i in np.random.default_rng(0).permutation(len(members))]
    tars = tmp_path / "tars"
    tars.mkdir()
    _folder_tar(tars / "sa_000000.tar", members)
    params = CurateParams(source="sa1b", path=tars, min_short_side=0, report=False)
    summary = curate(params, tmp_path / "out")
    rows = pq.read_table(tmp_path / "out/manifest.parquet").to_pylist()
    assert summary["candidates"] == len(rows) == 6  # 4 pairs + 2 unpaired members, once each
    by_name = {r["key"].rsplit("-", 1)[0]: r for r in rows}
    for n in range(1, 5):  # each image measured with its own annotation
        assert by_name[f"sa_{n}"]["richness"] == 10.0 * n
        assert by_name[f"sa_{n}"]["member"] == f"sa_000000/sa_{n}.jpg"
    assert by_name["sa_50"]["reason"] == "bad_annotation"
    assert by_name["sa_50"]["detail"] == (
        "sa_000000/sa_50.jpg: no annotation member sa_000000/sa_50.json in the tar"
    )
    assert by_name["sa_60"]["reason"] == "unreadable"
    assert by_name["sa_60"]["detail"] == (
        "sa_000000/sa_60.json: no image member sa_000000/sa_60.jpg in the tar"
    )


def test_sa1b_same_tar_name_in_two_folders_gets_distinct_keys(photos, tmp_path: Path) -> None:
    im = next(iter(photos.values()))
    h, w = im.shape[:2]
    for sub in ("a", "b"):
        (tmp_path / "tars" / sub).mkdir(parents=True)
        item = ("sa_1", encode(im), sa1b_json("sa_1", w, h, 5))
        sa1b_tar(tmp_path / "tars" / sub / "sa_000000.tar", [item])
    params = CurateParams(source="sa1b", path=tmp_path / "tars", min_short_side=0, report=False)
    summary = curate(params, tmp_path / "out")
    assert summary["candidates"] == 2 and summary["rejected.duplicate_exact"] == 1
