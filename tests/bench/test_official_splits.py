"""Both sides of every official split match the authors' files: members, sizes, disjointness.

The expected sides are read here straight from the fixture release's files (the official
names and formats), independently of the loaders, and compared with what the loader returns
and with the split the protocol then uses. A loader that copied one side onto the other, or
dropped or added members, fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.datasets import load_dataset
from bench.protocols import make_splits


def _csv_column(path: Path, column: str, where: tuple[str, str] | None = None) -> list[str]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [r[column] for r in rows if where is None or r[where[0]] == where[1]]


def _first_fields(path: Path, field: int) -> list[str]:
    return [line.split()[field] for line in path.read_text().splitlines() if line.strip()]


def sides_from_files(name: str, root: Path) -> dict[str, list[str]]:
    """``{"train": [...], "test": [...]}`` as the release's own files define them."""
    if name == "koniq":
        sets = root / "koniq10k_distributions_sets.csv"
        return {
            "train": _csv_column(sets, "image_name", ("set", "training")),
            "test": _csv_column(sets, "image_name", ("set", "test")),
        }
    if name == "ava":
        everything = _first_fields(root / "AVA.txt", 1)
        test = _first_fields(root / "aesthetics_image_lists" / "generic_test.jpgl", 0)
        return {"train": [i for i in everything if i not in set(test)], "test": test}
    if name == "aadb":
        labels = root / "imgListFiles_label"
        return {
            "train": _first_fields(labels / "imgListTrainRegression_score.txt", 0),
            "test": _first_fields(labels / "imgListTestNewRegression_score.txt", 0),
        }
    if name == "tad66k":
        merge = root / "labels" / "merge"
        return {p: _csv_column(merge / f"{p}.csv", "image") for p in ("train", "test")}
    test_csv = {"lsvq": "LSVQ_whole_test.csv", "lsvq_1080p": "LSVQ_whole_test_1080p.csv"}[name]
    return {
        "train": _csv_column(root / "LSVQ_whole_train.csv", "name"),
        "test": _csv_column(root / test_csv, "name"),
    }


OFFICIAL = ["koniq", "ava", "aadb", "tad66k", "lsvq", "lsvq_1080p"]


@pytest.mark.parametrize("name", OFFICIAL)
def test_both_sides_of_the_official_split_are_the_files(name, expected):
    root = expected["lsvq" if name.startswith("lsvq") else name][0]
    want = sides_from_files(name, root)
    assert want["train"] and want["test"] and not set(want["train"]) & set(want["test"])
    ds = load_dataset(name, root)
    split = ds.official_split
    assert split is not None
    got = {side: [ds.samples[i].key for i in split[side]] for side in ("train", "test")}
    for side in ("train", "test"):
        assert len(got[side]) == len(want[side]), side  # sizes as in the files
        assert sorted(got[side]) == sorted(want[side]), side  # members as in the files
    assert not set(split["train"]) & set(split["test"])
    (protocol,) = make_splits(ds, n_splits=5)
    assert protocol.name == "official"
    assert sorted(ds.samples[i].key for i in protocol.train) == sorted(want["train"])
    assert sorted(ds.samples[i].key for i in protocol.test) == sorted(want["test"])


def test_koniq_validation_set_is_on_neither_side(expected):
    root = expected["koniq"][0]
    sets = root / "koniq10k_distributions_sets.csv"
    validation = set(_csv_column(sets, "image_name", ("set", "validation")))
    ds = load_dataset("koniq", root)
    used = {ds.samples[i].key for side in ds.official_split.values() for i in side}
    assert validation and not validation & used
    assert validation <= {s.key for s in ds.samples}  # loaded, just not in the split


def test_a_name_on_both_sides_is_an_error(tmp_path):
    from tests.bench import releases

    root, _ = releases.make_aadb(tmp_path)
    labels = root / "imgListFiles_label"
    train = (labels / "imgListTrainRegression_score.txt").read_text()
    test = labels / "imgListTestNewRegression_score.txt"
    test.write_text(test.read_text() + train.splitlines()[0] + "\n")
    with pytest.raises(ValueError, match="duplicate name"):
        load_dataset("aadb", root)
