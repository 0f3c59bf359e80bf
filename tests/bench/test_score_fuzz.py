"""Seeded fuzzing of every score-file format the loaders read (.mat, .csv, .txt, .xlsx).

Each case damages one score file of a fixture release (official names and structure) and
loads the dataset. The only acceptable outcomes: the loader's ``ValueError`` naming the
damaged file, or a dataset whose every score is finite and inside the documented range, whose
every sample is a file inside the release, and whose official split (if any) has disjoint
sides. Anything else (another exception, a crash of the test process) fails. Damage is
byte-level (bit flips, overwrites, truncation, insertion, deletion, duplication, emptying) and
token-level (a number or name swapped for a hostile one: ``nan``, ``1e194``, ``../x``, ...);
``.mat`` files also get well-formed files with hostile content, and ``.xlsx`` damaged XML in a
valid zip. Run with ``-s`` to see the outcome counts.
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from bench.datasets import load_dataset
from tests.bench import releases

CASES = 300  # per format
HOSTILE = [
    "nan", "NaN", "inf", "-inf", "1e194", "1.5e194", "-1e308", "1e-400", "-0", "", " ", "-",
    "0x10", "１２", "1_0", "..", "../x.jpg", "/etc/passwd", "a\x00b", "\t", '"', "'", ",", ";",
    "9" * 400, "-5", "101", "11", "0", "training", "test", "é", "\udcff",
]  # fmt: skip


def _releases(root: Path) -> dict[str, Path]:
    made = {
        "livec": releases.make_livec(root, n=6)[0],
        "livevqc": releases.make_livevqc(root, n=3)[0],
        "koniq": releases.make_koniq(root, n=6)[0],
        "kadid": releases.make_kadid(root, refs=2, dists=1)[0],
        "flive": releases.make_flive(root, n=4)[0],
        "konvid": releases.make_konvid(root, n=3)[0],
        "lsvq": releases.make_lsvq(root, n=8)[0],
        "tad66k": releases.make_tad66k(root, n=6)[0],
        "ava": releases.make_ava(root, n=6)[0],
        "aadb": releases.make_aadb(root, n=6)[0],
        "spaq": releases.make_spaq(root, n=6)[0],
    }
    return made


TARGETS = {
    "mat": [
        ("livec", "Data/AllMOS_release.mat"),
        ("livec", "Data/AllImages_release.mat"),
        ("livevqc", "data.mat"),
    ],
    "csv": [
        ("koniq", "koniq10k_distributions_sets.csv"),
        ("kadid", "dmos.csv"),
        ("flive", "labels_image.csv"),
        ("konvid", "KoNViD_1k_attributes.csv"),
        ("lsvq", "LSVQ_whole_train.csv"),
        ("lsvq", "LSVQ_whole_test.csv"),
        ("tad66k", "labels/merge/train.csv"),
        ("tad66k", "labels/merge/test.csv"),
    ],
    "txt": [
        ("ava", "AVA.txt"),
        ("ava", "aesthetics_image_lists/generic_test.jpgl"),
        ("aadb", "imgListFiles_label/imgListTrainRegression_score.txt"),
        ("aadb", "imgListFiles_label/imgListTestNewRegression_score.txt"),
    ],
    "xlsx": [("spaq", "Annotations/MOS and Image attribute scores.xlsx")],
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    return _releases(tmp_path_factory.mktemp("fuzz"))


# -- damage ---------------------------------------------------------------------------------


def damage_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    """One random byte-level corruption of ``data``."""
    b = bytearray(data)
    n = len(b)
    kind = int(rng.integers(0, 8))
    if kind == 0:  # flip a few bits
        for _ in range(int(rng.integers(1, 9))):
            j = int(rng.integers(0, n))
            b[j] ^= 1 << int(rng.integers(0, 8))
    elif kind == 1:  # overwrite a run with random bytes
        j = int(rng.integers(0, n))
        b[j : j + int(rng.integers(1, 16))] = rng.integers(0, 256, 16, dtype=np.uint8).tobytes()
    elif kind == 2:  # truncate
        b = b[: int(rng.integers(0, n))]
    elif kind == 3:  # insert random bytes
        j = int(rng.integers(0, n))
        b[j:j] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
    elif kind == 4:  # delete a run
        j = int(rng.integers(0, n))
        del b[j : j + int(rng.integers(1, 64))]
    elif kind == 5:  # duplicate a run
        j = int(rng.integers(0, n))
        b[j:j] = b[j : j + int(rng.integers(1, 256))]
    elif kind == 6:  # zero a run
        j = int(rng.integers(0, n))
        k = int(rng.integers(1, 64))
        b[j : j + k] = bytes(len(b[j : j + k]))
    else:  # empty file
        b = bytearray()
    return bytes(b)


def damage_tokens(text: str, rng: np.random.Generator) -> str:
    """Swap one to three tokens (between separators) of ``text`` for hostile ones."""
    parts = re.split(r"([,\s<>\"]+)", text)
    slots = [i for i, p in enumerate(parts) if p and not re.fullmatch(r"[,\s<>\"]+", p)]
    for _ in range(int(rng.integers(1, 4))):
        i = slots[int(rng.integers(0, len(slots)))]
        parts[i] = HOSTILE[int(rng.integers(0, len(HOSTILE)))]
    return "".join(parts)


def damage_text(data: bytes, rng: np.random.Generator) -> bytes:
    if rng.random() < 0.5:
        return damage_bytes(data, rng)
    text = data.decode("utf-8")
    return damage_tokens(text, rng).encode("utf-8", "surrogateescape")


def damage_xlsx(data: bytes, rng: np.random.Generator) -> bytes:
    """Half byte-level damage of the zip, half damaged XML re-zipped into a valid archive."""
    if rng.random() < 0.4:
        return damage_bytes(data, rng)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    name = ["xl/worksheets/sheet1.xml", "xl/sharedStrings.xml"][int(rng.integers(0, 2))]
    parts[name] = damage_text(parts[name], rng)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, part in parts.items():
            zf.writestr(n, part)
    return out.getvalue()


def _hostile_value(rng: np.random.Generator, n: int) -> object:
    """Well-formed MATLAB content of the wrong kind, shape or range."""
    kind = int(rng.integers(0, 9))
    if kind == 0:
        return np.full((1, n), [np.nan, np.inf, 1.5e194, -1.0][int(rng.integers(0, 4))])
    if kind == 1:
        return rng.uniform(-1e3, 1e3, (1, int(rng.integers(0, 2 * n))))
    if kind == 2:
        return np.array(["text"] * n)
    if kind == 3:
        return releases._cell(["../../x.bmp"] * n)
    if kind == 4:
        cell = np.empty((n, 1), dtype=object)
        for i in range(n):
            cell[i, 0] = np.arange(3.0)
        return cell
    if kind == 5:
        return {"field": np.arange(n)}  # a struct
    if kind == 6:
        return np.zeros((0, 0))
    if kind == 7:
        return (rng.integers(0, 100, (n, 1)) + 1j).astype(np.complex128)
    return np.int8(rng.integers(-128, 127, (1, n)))


def damage_mat(data: bytes, rng: np.random.Generator, path: Path) -> bytes:
    """Byte-level damage, or a valid .mat file whose variables hold hostile content."""
    if rng.random() < 0.7:
        return damage_bytes(data, rng)
    from scipy.io import whosmat

    variables = {name: _hostile_value(rng, 13) for name, _, _ in whosmat(io.BytesIO(data))}
    if rng.random() < 0.2:
        variables = {"unrelated": np.ones(3)}
    out = io.BytesIO()
    savemat(out, variables, do_compression=bool(rng.random() < 0.5))
    return out.getvalue()


DAMAGE: dict[str, Callable[[bytes, np.random.Generator, Path], bytes]] = {
    "mat": damage_mat,
    "csv": lambda d, rng, p: damage_text(d, rng),
    "txt": lambda d, rng, p: damage_text(d, rng),
    "xlsx": lambda d, rng, p: damage_xlsx(d, rng),
}


# -- checks ---------------------------------------------------------------------------------


def check_loaded(name: str, root: Path) -> str:
    """Load ``name``; ``"error"`` or ``"loaded"`` when the outcome is acceptable, else raise."""
    try:
        ds = load_dataset(name, root)
    except ValueError as exc:
        return str(exc)
    lo, hi = ds.score_range
    scores = ds.scores
    assert np.isfinite(scores).all() and ((scores >= lo) & (scores <= hi)).all(), scores
    for s in ds.samples:
        assert s.path.is_file() and s.path.resolve().is_relative_to(root.resolve()), s.path
    if ds.official_split is not None:
        train, test = ds.official_split["train"], ds.official_split["test"]
        assert not set(train) & set(test)
        assert all(0 <= i < len(ds) for i in train + test)
    return ""


@pytest.mark.parametrize("fmt", list(TARGETS))
def test_fuzz_score_files(made, fmt):
    rng = np.random.default_rng(["mat", "csv", "txt", "xlsx"].index(fmt))
    outcomes: Counter[str] = Counter()
    started = time.perf_counter()
    for case in range(CASES):
        name, rel = TARGETS[fmt][case % len(TARGETS[fmt])]
        path = made[name] / rel
        original = path.read_bytes()
        path.write_bytes(DAMAGE[fmt](original, rng, path))
        try:
            message = check_loaded(name, made[name])
        except Exception as exc:  # the point: report which damage escaped, then fail
            pytest.fail(f"case {case} ({name}/{rel}): {type(exc).__name__}: {exc}")
        finally:
            path.write_bytes(original)
        if message:
            assert message.startswith(f"{name}: ") and "\n" not in message, message
            assert len(message) < 1000, message
            assert path.name in message or str(path.parent) in message, message
            outcomes["crashed (reported)" if "crashed" in message else "ValueError"] += 1
        else:
            outcomes["loaded, checked"] += 1
    elapsed = time.perf_counter() - started
    print(f"\nfuzz {fmt}: {CASES} cases in {elapsed:.1f} s: {dict(outcomes)}")
    assert sum(outcomes.values()) == CASES
    assert outcomes["ValueError"] + outcomes["crashed (reported)"] > CASES // 4
