"""Corrupt score files: one ValueError naming the file and the reason, never a crash or bad data.

The fixture releases have the official names and structure (``releases``); each test damages
one score file the way real corruption does and checks the loader's answer. The MAT reader
runs in a worker process; a worker that dies or stalls is reported as a read failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from scipy.io import loadmat, savemat

from bench.datasets import load_dataset, matfile
from bench.datasets.files import read_xlsx
from tests.bench import releases


@pytest.fixture
def livec(tmp_path):
    root, _ = releases.make_livec(tmp_path, n=6)
    return root


def test_zero_byte_mat_is_one_error_naming_the_file(livec):
    (livec / "Data" / "AllMOS_release.mat").write_bytes(b"")
    with pytest.raises(ValueError, match=r"AllMOS_release.mat: 0 bytes, too short .* \(empty"):
        load_dataset("livec", livec)


def test_zero_byte_mat_through_the_cli_is_an_error_line_and_exit_2(livec, tmp_path, capsys):
    from qpt.cli import main

    (livec / "Data" / "AllMOS_release.mat").write_bytes(b"")
    code = main(
        ["bench", "run", "livec", "--data-root", str(livec.parent), "-c", "random:hivit_nano",
         "--out", str(tmp_path / "out")]
    )  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith("error: livec: ") and "AllMOS_release.mat: 0 bytes" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_mat_headers_that_are_not_v5(livec):
    mos = livec / "Data" / "AllMOS_release.mat"
    mos.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + bytes(90) + b"\x89HDF\r\n")
    with pytest.raises(ValueError, match=r"AllMOS_release.mat: a MATLAB v7.3 \(HDF5\) file"):
        load_dataset("livec", livec)
    mos.write_bytes(b"a,b\n" * 64)
    with pytest.raises(ValueError, match=r"AllMOS_release.mat: not a MATLAB v5 .mat file"):
        load_dataset("livec", livec)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (np.full((1, 13), 1.5e194), r"is 1.5e\+194, outside the documented range 0..100"),
        (np.array([[np.nan] * 13]), r"is not a number \(nan\)"),
        (np.array([[-3.0] * 13]), r"is -3, outside"),
        (np.ones((1, 4)), r"lists 13 images but .*AllMOS_release.mat has 4 MOS"),
        (np.array(["abc"]), r"variable 'AllMOS_release' is not numeric"),
    ],
    ids=["huge", "nan", "negative", "count", "text"],
)
def test_mat_values_are_checked(livec, value, reason):
    savemat(livec / "Data" / "AllMOS_release.mat", {"AllMOS_release": value})
    with pytest.raises(ValueError, match=reason):
        load_dataset("livec", livec)


def test_mat_names_are_checked(livec):
    names = livec / "Data" / "AllImages_release.mat"
    savemat(names, {"AllImages_release": np.arange(13.0)})
    with pytest.raises(
        ValueError, match=r"AllImages_release.mat: .*'AllImages_release' is not text"
    ):
        load_dataset("livec", livec)
    savemat(names, {"other": np.arange(13.0)})
    with pytest.raises(ValueError, match=r"no variable 'AllImages_release' \(found: \['other'\]\)"):
        load_dataset("livec", livec)
    cell = releases._cell([f"t{i}.bmp" for i in range(1, 8)] + ["../../etc/passwd"] * 6)
    savemat(names, {"AllImages_release": cell})
    with pytest.raises(ValueError, match=r"AllImages_release.mat.*: a name leaving the release"):
        load_dataset("livec", livec)


@pytest.fixture
def fake_worker(tmp_path, monkeypatch):
    """Swap the MAT worker for a script; the real one is restored (and restarted) after."""

    def install(body: str):
        script = tmp_path / "worker.py"
        script.write_text(textwrap.dedent(body))
        matfile._WORKER.close()
        monkeypatch.setattr(matfile, "WORKER", script)

    yield install
    matfile._WORKER.close()


def test_a_crashing_parser_is_one_error_naming_the_file(livec, fake_worker):
    fake_worker("""
        import os, signal, sys
        sys.stdin.readline()
        os.kill(os.getpid(), signal.SIGSEGV)
    """)
    with pytest.raises(ValueError, match=r"AllImages_release.mat: .*crashed \(killed by SIGSEGV\)"):
        load_dataset("livec", livec)


def test_worker_restarts_after_a_crash(livec, monkeypatch, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(
        "import os, signal, sys\nsys.stdin.readline()\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    matfile._WORKER.close()
    monkeypatch.setattr(matfile, "WORKER", script)
    with pytest.raises(ValueError, match="killed by SIGKILL"):
        load_dataset("livec", livec)
    monkeypatch.undo()
    assert len(load_dataset("livec", livec)) == 6  # a fresh real worker


def test_a_stalled_parser_is_stopped(livec, fake_worker, monkeypatch):
    fake_worker("""
        import sys, time
        sys.stdin.readline()
        time.sleep(60)
    """)
    monkeypatch.setattr(matfile, "TIMEOUT", 0.5)
    with pytest.raises(ValueError, match=r"took more than 0.5 s"):
        load_dataset("livec", livec)


def test_csv_that_is_not_text_or_not_a_table(tmp_path):
    root, _ = releases.make_kadid(tmp_path, refs=2, dists=1)
    score = root / "dmos.csv"
    score.write_bytes(b"dist_img,ref_img,dmos,var\n\xff\xfe\x00bad,\x81,3,1\n")
    with pytest.raises(ValueError, match=r"dmos.csv: cannot read as CSV: UnicodeDecodeError"):
        load_dataset("kadid", root)
    score.write_text('dist_img,ref_img,dmos,var\n"I01_01_01.png,I01.png,3,1\n')
    with pytest.raises(ValueError, match=r"dmos.csv"):
        load_dataset("kadid", root)
    score.write_text("dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,inf,1\n")
    with pytest.raises(ValueError, match=r"dmos.csv: score of 'I01_01_01.png' is not a number"):
        load_dataset("kadid", root)


def test_ava_lines_are_checked(tmp_path):
    root, _ = releases.make_ava(tmp_path, n=4)
    score = root / "AVA.txt"
    lines = score.read_text().splitlines()
    fields = lines[0].split()
    score.write_text("\n".join([" ".join(fields[:3] + ["-5"] + fields[4:])] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"AVA.txt line 1: negative vote count"):
        load_dataset("ava", root)
    score.write_text("\n".join([" ".join(fields[:14])] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"AVA.txt line 1 has 14 fields, expected 15"):
        load_dataset("ava", root)


def test_xlsx_with_a_shared_string_out_of_range(tmp_path):
    path = tmp_path / "a.xlsx"
    releases.write_xlsx(path, [["Image name", "MOS"], ["00001.jpg", 42.5]])
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"<v>2</v>", b"<v>-1</v>"
    )
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in parts.items():
            zf.writestr(n, data)
    with pytest.raises(
        ValueError, match=r"a.xlsx: cannot read as .xlsx: ValueError: shared string"
    ):
        read_xlsx(path, "t")


def test_worker_runs_without_the_package_on_its_path(livec, tmp_path):
    """Started by path with ``-P`` from anywhere, the worker needs nothing of ``bench``."""
    request = {
        "path": str(livec / "Data" / "AllMOS_release.mat"),
        "variables": {"AllMOS_release": "numbers"},
    }
    out = subprocess.run(
        [sys.executable, "-P", str(matfile.WORKER)],
        input=json.dumps(request) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        timeout=60,
    )
    mos = json.loads(out.stdout)["ok"]["AllMOS_release"]
    want = loadmat(livec / "Data" / "AllMOS_release.mat")["AllMOS_release"].ravel()
    assert np.array_equal(mos, want)
