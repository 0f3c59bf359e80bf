"""Every layout a loader accepts, built from the official file and folder names, loads the same.

Each case starts from the fixture release (official names and columns, see ``releases``) and
moves its folders the way a common distribution of the dataset lays them out.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.datasets import expected_layout, find_datasets, get_spec, list_specs, load_dataset
from tests.bench import releases


def _move(src: Path, dst: Path) -> None:
    """Move folder ``src`` to ``dst`` (which may lie inside ``src``)."""
    tmp = src.with_name(src.name + ".moving")
    src.rename(tmp)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dst)


def _loads_as_expected(name: str, root: Path, pairs: list[tuple[str, float]]) -> None:
    ds = load_dataset(name, root)
    got = {s.key: s.score for s in ds.samples}
    assert got.keys() == dict(pairs).keys()
    assert np.allclose([got[k] for k, _ in pairs], [v for _, v in pairs])
    assert all(s.path.is_file() for s in ds.samples)
    found, _ = find_datasets(root.parent)
    assert found[name] == root


@pytest.mark.parametrize(
    "images",
    ["images", "images/images", "image", "image/images"],
    ids=lambda p: p.replace("/", "-"),
)
def test_ava_image_folders(tmp_path, images):
    root, pairs = releases.make_ava(tmp_path)
    if images != "images":
        _move(root / "images", root / images)
    _loads_as_expected("ava", root, pairs)
    assert load_dataset("ava", root).samples[0].path.parent == root / images


def test_ava_missing_images_name_every_folder_searched(tmp_path):
    root, _ = releases.make_ava(tmp_path)
    _move(root / "images", root / "photos")
    with pytest.raises(ValueError) as info:
        load_dataset("ava", root)
    for folder in ("images", "images/images", "image", "image/images"):
        assert f"{root / folder}/" in str(info.value)
    assert "AVA.txt" in str(info.value)


@pytest.mark.parametrize(
    ("labels", "images"),
    [
        ("labels/merge", "imgs"),  # the dataset download
        ("labels/merge", "images"),
        ("labels/merge", "TAD66K"),  # photo folder named after the dataset, beside labels/
        ("dataset/merge", "imgs"),  # dataset.zip of the authors' code repository
        ("dataset/merge", "TAD66K"),
    ],
)
def test_tad66k_label_and_image_folders(tmp_path, labels, images):
    root, pairs = releases.make_tad66k(tmp_path)
    if labels != "labels/merge":
        _move(root / "labels", root / "tmp-labels")
        _move(root / "tmp-labels" / "merge", root / labels)
        shutil.rmtree(root / "tmp-labels")
    if images != "imgs":
        _move(root / "imgs", root / images)
    _loads_as_expected("tad66k", root, pairs)
    ds = load_dataset("tad66k", root)
    assert ds.samples[0].path.parent == root / images
    train = (root / labels / "train.csv").read_text().splitlines()[1:]
    assert {ds.samples[i].key for i in ds.official_split["train"]} == {
        line.split(",")[0] for line in train
    }


@pytest.mark.parametrize(
    ("annotations", "images"),
    [
        ("Annotations", "TestImage"),  # as shipped: TestImage/ beside Annotations/
        ("Annotations", "SPAQ/TestImage"),  # the image archive unpacked inside the release
        ("Annotations", "TestImage/TestImage"),
        ("annotations", "TestImage"),
        (".", "TestImage"),  # the spreadsheet beside the photo folder
        (".", "SPAQ/TestImage"),
    ],
)
def test_spaq_annotation_and_image_folders(tmp_path, annotations, images):
    root, pairs = releases.make_spaq(tmp_path)
    score = "MOS and Image attribute scores.xlsx"
    if annotations != "Annotations":
        (root / annotations).mkdir(exist_ok=True)
        (root / "Annotations" / score).rename(root / annotations / score)
        if annotations == ".":
            (root / "Annotations").rmdir()
    if images != "TestImage":
        _move(root / "TestImage", root / images)
    _loads_as_expected("spaq", root, pairs)
    assert load_dataset("spaq", root).samples[0].path.parent == root / images


@pytest.mark.parametrize("images", ["1024x768", "512x384"])
@pytest.mark.parametrize("with_sets", [True, False], ids=["sets-file", "scores-file"])
def test_koniq_image_folders_and_score_files(tmp_path, images, with_sets):
    root, pairs = releases.make_koniq(tmp_path, with_sets=with_sets)
    if images != "1024x768":
        _move(root / "1024x768", root / images)
    _loads_as_expected("koniq", root, pairs)


def test_flive_images_beside_the_label_file(tmp_path):
    root, pairs = releases.make_flive(tmp_path)
    for sub in (root / "database").iterdir():
        sub.rename(root / sub.name)
    (root / "database").rmdir()
    _loads_as_expected("flive", root, pairs)


def _accepted_names(spec_name: str) -> list[str]:
    """Folder and file names a loader module declares it accepts."""
    module = importlib.import_module(get_spec(spec_name).load.__module__)
    if spec_name.startswith("lsvq"):
        module = importlib.import_module("bench.datasets.lsvq")
    names = []
    for attr in ("IMAGE_DIRS", "LABEL_DIRS", "SCORE_FILES"):
        names += list(getattr(module, attr, ()))
    for attr in ("SCORE_FILE", "SETS_FILE", "SCORES_FILE", "TEST_LIST", "TRAIN_LIST", "TRAIN_CSV"):
        if hasattr(module, attr):
            names.append(getattr(module, attr))
    return names


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_layout_text_and_docstring_show_every_accepted_layout(name):
    spec = get_spec(name)
    layout = expected_layout(spec)
    module = importlib.import_module(
        spec.load.__module__ if "lsvq" not in name else "bench.datasets.lsvq"
    )
    doc = module.__doc__ or ""
    for accepted in [*_accepted_names(name), *spec.markers]:
        assert _shown(accepted, layout), f"{accepted} not in the layout of {name}"
        assert _shown(accepted, doc), f"{accepted} not in the docstring of {name}"


def _shown(path: str, text: str) -> bool:
    """``path`` written out, or each of its parts named (``annotations/`` ... ``x.xlsx``)."""
    return path in text or all(part in text for part in Path(path).parts)
