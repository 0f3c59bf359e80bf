"""Loaders read each official layout exactly, and refuse mismatched or partial releases."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.datasets import find_datasets, get_spec, list_specs, load_dataset
from bench.datasets.files import read_xlsx
from tests.bench import releases

ALL = [s.name for s in list_specs()]


def test_registry_has_the_eleven_benchmarks_and_kadid():
    assert set(ALL) == {
        "livec", "koniq", "spaq", "flive", "kadid", "ava", "aadb", "tad66k",
        "konvid", "livevqc", "lsvq", "lsvq_1080p",
    }  # fmt: skip
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        get_spec("nope")


def test_find_datasets_locates_every_release_under_one_root(data_root):
    found, missing = find_datasets(data_root)
    assert missing == []
    assert found["livec"] == data_root / "ChallengeDB_release"
    assert found["lsvq"] == found["lsvq_1080p"] == data_root / "LSVQ"


def test_find_datasets_reports_missing_ones(tmp_path):
    releases.make_kadid(tmp_path / "deep" / "er")
    found, missing = find_datasets(tmp_path)
    assert list(found) == ["kadid"]
    assert len(missing) == len(ALL) - 1


@pytest.mark.parametrize("name", [n for n in ALL if n != "lsvq_1080p"])
def test_loader_reads_keys_and_scores(name, expected):
    root, pairs = expected[name]
    ds = load_dataset(name, root)
    got = {s.key: s.score for s in ds.samples}
    want = dict(pairs)
    if ds.official_split is not None and name == "lsvq":  # the 1080p rows belong to lsvq_1080p
        want = {k: want[k] for k in got}
    assert got.keys() == want.keys()
    assert np.allclose([got[k] for k in want], list(want.values()))
    assert all(s.path is not None and s.path.is_file() for s in ds.samples)
    assert ds.missing == []


def test_livec_excludes_the_seven_training_images(expected):
    ds = load_dataset("livec", expected["livec"][0])
    assert not any(s.key.startswith("t") for s in ds.samples)
    assert ds.higher_better and ds.official_split is None


def test_koniq_official_split_uses_training_and_test_sets(expected):
    ds = load_dataset("koniq", expected["koniq"][0])
    train = {ds.samples[i].key for i in ds.official_split["train"]}
    test = {ds.samples[i].key for i in ds.official_split["test"]}
    assert len(train) == 4 and len(test) == 4 and not train & test  # validation left out


def test_koniq_without_sets_falls_back_to_random_splits(tmp_path):
    root, pairs = releases.make_koniq(tmp_path, with_sets=False)
    ds = load_dataset("koniq", root)
    assert ds.official_split is None and len(ds) == len(pairs)


def test_koniq_reads_each_score_file_on_its_own_scale(tmp_path):
    sets_root, sets_pairs = releases.make_koniq(tmp_path / "a", with_sets=True)
    scores_root, scores_pairs = releases.make_koniq(tmp_path / "b", with_sets=False)
    sets_ds, scores_ds = load_dataset("koniq", sets_root), load_dataset("koniq", scores_root)
    assert sets_ds.score_range == (0.0, 100.0) and scores_ds.score_range == (1.0, 5.0)
    assert np.allclose(sets_ds.scores, [s for _, s in sets_pairs])
    assert np.allclose(scores_ds.scores, [s for _, s in scores_pairs])
    assert sets_ds.scores.max() > 5  # the 0..100 file is not squeezed onto 1..5
    # same images, same votes: the two files' MOS are one linear map apart
    assert np.allclose((scores_ds.scores - 1) / 4 * 100, sets_ds.scores, atol=1e-5)


def test_koniq_score_outside_its_files_scale_is_an_error(tmp_path):
    root, pairs = releases.make_koniq(tmp_path, with_sets=False)
    csv_file = root / "koniq10k_scores_and_distributions.csv"
    text = csv_file.read_text()
    csv_file.write_text(text.replace(f",{pairs[0][1]},", ",77.3836206897,", 1))
    msg = r"scores_and_distributions.csv: score of .* is 77.38.* range 1\.\.5"
    with pytest.raises(ValueError, match=msg):
        load_dataset("koniq", root)


def test_ava_mean_of_votes_and_official_test_list(expected):
    root, pairs = expected["ava"]
    ds = load_dataset("ava", root)
    test_ids = (root / "aesthetics_image_lists" / "generic_test.jpgl").read_text().split()
    assert sorted(ds.samples[i].key for i in ds.official_split["test"]) == sorted(test_ids)
    assert len(ds.official_split["train"]) == len(pairs) - len(test_ids)


def test_aadb_finds_new_test_images_in_their_own_folder(expected):
    ds = load_dataset("aadb", expected["aadb"][0])
    test_paths = [ds.samples[i].path for i in ds.official_split["test"]]
    assert test_paths and all(p.parent.name == "AADB_newtest_originalSize" for p in test_paths)


def test_lsvq_two_benchmarks_share_the_training_list(expected):
    root = expected["lsvq"][0]
    a, b = load_dataset("lsvq", root), load_dataset("lsvq_1080p", root)
    train_a = {a.samples[i].key for i in a.official_split["train"]}
    train_b = {b.samples[i].key for i in b.official_split["train"]}
    test_a = {a.samples[i].key for i in a.official_split["test"]}
    test_b = {b.samples[i].key for i in b.official_split["test"]}
    assert train_a == train_b and len(test_a) == 3 and len(test_b) == 3 and not test_a & test_b
    assert a.media == "video"


def test_kadid_groups_by_reference_image(expected):
    ds = load_dataset("kadid", expected["kadid"][0])
    assert {s.group for s in ds.samples} == {f"I{r:02d}.png" for r in range(1, 5)}


def test_missing_file_names_the_score_file_unless_partial(tmp_path):
    root, pairs = releases.make_koniq(tmp_path)
    (root / "1024x768" / pairs[0][0]).unlink()
    with pytest.raises(ValueError, match=r"1 of 12 files listed in .*koniq10k_distributions_sets"):
        load_dataset("koniq", root)
    ds = load_dataset("koniq", root, allow_partial=True)
    assert ds.missing == [pairs[0][0]] and len(ds) == 11


def test_duplicate_names_are_an_error(tmp_path):
    root, _ = releases.make_tad66k(tmp_path)
    test_csv = root / "labels" / "merge" / "test.csv"
    lines = test_csv.read_text().splitlines()
    test_csv.write_text("\n".join(lines + [lines[1]]) + "\n")
    with pytest.raises(ValueError, match="duplicate name"):
        load_dataset("tad66k", root)


def test_mat_files_of_different_lengths_are_an_error(tmp_path):
    from scipy.io import savemat

    root, _ = releases.make_livec(tmp_path)
    savemat(root / "Data" / "AllMOS_release.mat", {"AllMOS_release": np.ones((1, 3))})
    with pytest.raises(ValueError, match="lists 19 images but .*AllMOS_release.mat has 3"):
        load_dataset("livec", root)


def test_missing_score_file_and_column(tmp_path):
    root, _ = releases.make_konvid(tmp_path, n=3)
    (root / "KoNViD_1k_attributes.csv").write_text("flickr_id,score\n1,2\n")
    with pytest.raises(ValueError, match="no column 'MOS'"):
        load_dataset("konvid", root)
    shutil.rmtree(root / "KoNViD_1k_videos")
    (root / "KoNViD_1k_attributes.csv").unlink()
    with pytest.raises(FileNotFoundError, match="KoNViD_1k_attributes.csv not found"):
        load_dataset("konvid", root)


def test_xlsx_reader_shared_and_inline_cells(tmp_path):
    path = tmp_path / "a.xlsx"
    releases.write_xlsx(path, [["Image name", "MOS"], ["00001.jpg", 42.5], ["00002.jpg", 7]])
    assert read_xlsx(path, "t") == [
        ["Image name", "MOS"],
        ["00001.jpg", "42.5"],
        ["00002.jpg", "7"],
    ]
    (tmp_path / "b.xlsx").write_text("not a zip")
    with pytest.raises(ValueError, match=r"b.xlsx: cannot read as .xlsx: BadZipFile"):
        read_xlsx(tmp_path / "b.xlsx", "t")


def test_real_livec_dev_in_its_official_layout(shared_data: Path):
    found, _ = find_datasets(shared_data)
    if "livec" not in found:
        pytest.skip("livec-dev not in shared data")
    ds = load_dataset("livec", found["livec"])
    assert len(ds) == 374  # 381 entries minus the 7 training images
    assert 0 < ds.scores.min() and ds.scores.max() < 100 and 40 < ds.scores.mean() < 70
    assert {p.suffix for p in (s.path for s in ds.samples)} <= {".bmp", ".JPG"}


def test_synthetic_crops_add_sources_each_its_own_group(photo_dir):
    from bench.datasets.synthetic import build_synthetic

    ds = build_synthetic(
        photo_dir, n_photos=None, crops_per_photo=2, ops=["gaussian_blur"], size=32
    )
    groups = {s.group for s in ds.samples}
    assert len(groups) == 4 * 3 and len(ds) == 4 * 3 * 5
    assert sum("#crop-" in g for g in groups) == 8
    crop = next(i for i, s in enumerate(ds.samples) if s.key.endswith("#crop-1/gaussian_blur/1"))
    whole = next(i for i, s in enumerate(ds.samples) if s.key.endswith(".png/gaussian_blur/1"))
    assert ds.reader(crop).shape[:2] == (32, 32) and min(ds.reader(whole).shape[:2]) == 32
    assert not (ds.reader(crop)[:, :, 0] == ds.reader(whole)[:32, :32, 0]).all()


def test_a_seeded_subset_of_synthetic_reads_the_same_pixels(photo_dir):
    """``max_items`` subsets with numpy indices; the subset's reader still decodes."""
    from bench.datasets.synthetic import build_synthetic

    ds = build_synthetic(photo_dir, n_photos=2, ops=["gaussian_blur"], size=32)
    keep = np.sort(np.random.default_rng(0).choice(len(ds), 4, replace=False))
    sub = ds.subset(keep)
    assert [s.key for s in sub.samples] == [ds.samples[i].key for i in keep]
    for new, old in enumerate(keep):
        np.testing.assert_array_equal(sub.reader(new), ds.reader(int(old)))
