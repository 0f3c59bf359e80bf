"""The built-in corpus: real photos, deterministic, messy in the ways a curator meets."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curate.sources.builtin import base_photos, corpus_index, materialize


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return materialize(tmp_path_factory.mktemp("builtin") / "corpus", seed=0)


def test_unknown_photo_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown built-in photos"):
        base_photos(["astronaut", "unicorn"])


def test_base_photos_are_real_colour_photographs() -> None:
    photos = base_photos()
    assert {"astronaut", "coffee", "chelsea", "rocket"} <= set(photos)
    assert len(photos) >= 8
    for name, image in photos.items():
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert min(image.shape[:2]) >= 256, name
        # A natural photo has many distinct colours, unlike a test pattern.
        colours = np.unique(image[::4, ::4].reshape(-1, 3), axis=0)
        assert len(colours) > 2000, name


def test_every_file_is_indexed_with_its_true_hash(corpus: Path) -> None:
    index = corpus_index(corpus)
    on_disk = {p.relative_to(corpus).as_posix() for p in corpus.rglob("*") if p.is_file()}
    assert on_disk - {"corpus.json"} == {e["path"] for e in index}
    for entry in index:
        data = (corpus / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_a_few_hundred_candidates_of_every_kind(corpus: Path) -> None:
    index = corpus_index(corpus)
    kinds = Counter(e["kind"] for e in index)
    n_photos = len(base_photos())
    assert 150 <= len(index) <= 500
    assert kinds["original"] == n_photos
    assert kinds["corrupt"] == n_photos
    assert kinds["exact_duplicate"] >= n_photos
    assert kinds["near_duplicate"] >= 3 * n_photos


def test_duplicates_point_at_existing_files(corpus: Path) -> None:
    index = {e["path"]: e for e in corpus_index(corpus)}
    for entry in index.values():
        if entry["kind"] == "exact_duplicate":
            assert entry["sha256"] == index[entry["dup_of"]]["sha256"]
        elif entry["kind"] == "near_duplicate":
            assert entry["sha256"] != index[entry["dup_of"]]["sha256"]
            with Image.open(corpus / entry["path"]) as im:
                im.load()


def test_corrupt_files_do_not_decode_and_the_rest_do(corpus: Path) -> None:
    short_sides = []
    for entry in corpus_index(corpus):
        path = corpus / entry["path"]
        if entry["kind"] == "corrupt":
            with pytest.raises(OSError):
                with Image.open(path) as im:
                    im.load()
        else:
            with Image.open(path) as im:
                im.load()
                short_sides.append(min(im.size))
    # Resolution spread: plenty above and below a 224 px short-side threshold.
    assert sum(s >= 224 for s in short_sides) >= 40
    assert sum(s < 224 for s in short_sides) >= 40


FEW = ("chelsea", "coffee", "rocket")


def test_same_seed_same_bytes_other_seed_other_crops(corpus: Path, tmp_path: Path) -> None:
    again = materialize(tmp_path / "again", seed=0, photos=FEW)
    other = materialize(tmp_path / "other", seed=1, photos=FEW)
    hashes = [e["sha256"] for e in corpus_index(again)]
    # A subset reproduces exactly the same files as the full corpus.
    full = {e["path"]: e["sha256"] for e in corpus_index(corpus)}
    assert hashes == [full[e["path"]] for e in corpus_index(again)]
    assert [e["sha256"] for e in corpus_index(again)] == hashes
    other_hashes = [e["sha256"] for e in corpus_index(other)]
    assert len(other_hashes) == len(hashes)
    assert sum(a != b for a, b in zip(hashes, other_hashes, strict=True)) > len(hashes) // 2


def test_materialize_is_idempotent_and_repairs_a_partial_write(tmp_path: Path) -> None:
    root = materialize(tmp_path / "c", seed=0, photos=FEW)
    stamp = (root / "corpus.json").stat().st_mtime_ns
    assert materialize(tmp_path / "c", seed=0, photos=FEW) == root
    assert (root / "corpus.json").stat().st_mtime_ns == stamp  # nothing rewritten
    # A crash mid-write leaves only the temporary sibling; the next call rebuilds cleanly.
    (root / "corpus.json").unlink()
    (tmp_path / "c.partial").mkdir()
    (tmp_path / "c.partial" / "junk").write_text("half")
    materialize(tmp_path / "c", seed=0, photos=FEW)
    assert (root / "corpus.json").exists()
    assert not (tmp_path / "c.partial").exists()
    assert not (root / "junk").exists()
