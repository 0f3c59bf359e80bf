"""A hostile folder: odd names, special files, unlistable directories, bombs, killed runs.

Each case must end as a manifest row with its reason (or one clear error line), never a
crash, a hang or a silent drop.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.params import CurateParams, ShardParams
from curate.pipeline import curate
from curate.shard import write_shards
from qpt.cli import main
from qpt_base.lock import pid_alive
from qpt_base.paths import text_path

BAD_NAME = os.fsdecode(b"caf\xe9-\xff.png")  # Latin-1 and a stray byte: not UTF-8


def png_header(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR declares ``width x height`` (CRC recomputed): a bomb's
    header in 70 bytes."""
    import io

    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


@pytest.fixture
def hostile(tmp_path: Path, photos) -> Path:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    ims = list(photos.values())
    Image.fromarray(ims[0][:300, :300]).save(root / "ok.png")
    Image.fromarray(ims[1][:300, :300]).save(root / BAD_NAME)
    Image.fromarray(ims[2][:300, :300]).save(root / "sub" / "inner.png")
    os.mkfifo(root / "pipe.png")
    (root / "null.png").symlink_to("/dev/null")
    (root / "bomb.png").write_bytes(png_header(20_000, 20_000))
    return root


def _rows(out: Path) -> dict[str, dict]:
    rows = pq.read_table(out / "manifest.parquet").to_pylist()
    return {text_path(r["uri"]).name: r for r in rows}


def _params(root: Path, **kw) -> CurateParams:
    return CurateParams(source="folder", path=root, richness=False, report=False, **kw)


@pytest.fixture
def no_hang():
    """Fail (instead of hanging forever) if the run blocks, e.g. opening a FIFO."""

    def ring(*_):
        raise TimeoutError("curate hung")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_hostile_names_and_special_files(hostile: Path, tmp_path: Path, no_hang) -> None:
    summary = curate(_params(hostile), tmp_path / "out")
    rows = _rows(tmp_path / "out")
    assert summary["candidates"] == len(rows) == 6
    assert rows["pipe.png"]["reason"] == "special_file" and "FIFO" in rows["pipe.png"]["detail"]
    assert rows["null.png"]["reason"] == "special_file"
    assert "character device" in rows["null.png"]["detail"]
    assert rows["bomb.png"]["reason"] == "decompression_bomb"
    assert "400000000 pixels" in rows["bomb.png"]["detail"]
    # The non-UTF-8 name is measured like any file; its uri gives back the exact bytes.
    bad = rows[BAD_NAME]
    assert bad["status"] == "kept" and bad["phash"]
    assert bad["uri"].startswith("file://") and bad["uri"].isascii()
    assert os.fsencode(text_path(bad["uri"])) == os.fsencode(hostile / BAD_NAME)
    assert rows["inner.png"]["status"] == "kept"
    # ... and shards read it back: original bytes under a WebDataset-safe key.
    shards = write_shards(tmp_path / "out/manifest.parquet", tmp_path / "s", ShardParams())
    assert shards["samples"] == 3
    import tarfile

    with tarfile.open(tmp_path / "s/shard-000000.tar") as tar:
        assert tar.extractfile(f"{bad['key']}.png").read() == (hostile / BAD_NAME).read_bytes()


def test_identical_runs_write_identical_manifests(hostile: Path, tmp_path: Path) -> None:
    (hostile / "truncated.png").write_bytes((hostile / "ok.png").read_bytes()[:2000])
    (hostile / "text.png").write_bytes(b"not an image\n" * 20)
    (hostile / "gone.png").symlink_to(hostile / "nowhere.png")
    first = curate(_params(hostile, unit_size=3), tmp_path / "a")
    second = curate(_params(hostile, unit_size=3), tmp_path / "b")
    assert first["candidates"] == second["candidates"] == 9
    a, b = (pq.read_table(tmp_path / p / "manifest.parquet").to_pylist() for p in "ab")
    assert a == b
    details = " ".join(r["detail"] for r in a if r["detail"])
    assert "0x" not in details and {r["reason"] for r in a} >= {"corrupt", "not_image"}


def test_unlistable_directory_is_a_row(hostile: Path, tmp_path: Path, monkeypatch) -> None:
    """Root ignores permissions, so the listing call itself is made to fail here."""
    import curate.sources.folder as folder

    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(folder.os, "scandir", scandir)
    (hostile / "sub" / "deeper").mkdir()
    summary = curate(_params(hostile), tmp_path / "out")
    rows = _rows(tmp_path / "out")
    assert "inner.png" not in rows and rows["sub"]["reason"] == "unreadable_dir"
    assert rows["sub"]["detail"] == "cannot be listed: PermissionError: Permission denied"
    assert summary["rejected.unreadable_dir"] == 1
    assert summary["candidates"] == summary["kept"] + summary["rejected"] == 6


def test_unlistable_root_is_one_error_line(tmp_path: Path, monkeypatch, capsys) -> None:
    import curate.sources.folder as folder

    def scandir(path="."):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(folder.os, "scandir", scandir)
    (tmp_path / "in").mkdir()
    code = main(["curate", "--source", "folder", "--path", str(tmp_path / "in"),
                 "-o", str(tmp_path / "out"), "--no-report"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert (
        code == 2
        and err == f"error: folder source: {tmp_path / 'in'}: cannot list (Permission denied)"
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists any directory whatever its mode")
def test_unlistable_directory_with_real_permissions(hostile: Path, tmp_path: Path) -> None:
    (hostile / "sub").chmod(0)
    try:
        summary = curate(_params(hostile), tmp_path / "out")
    finally:
        (hostile / "sub").chmod(0o755)
    assert _rows(tmp_path / "out")["sub"]["reason"] == "unreadable_dir"
    assert summary["rejected.unreadable_dir"] == 1


def test_max_pixels_decides_the_bomb(tmp_path: Path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "big.png").write_bytes(png_header(3000, 3000))  # 9 Mpx declared, 1 px of data

    def run(*extra: str) -> dict:
        out = tmp_path / f"out{len(extra)}-{'-'.join(extra)}"
        args = ["curate", "--source", "folder", "--path", str(src), "-o", str(out),
                "--no-report", "--no-richness", "--json", *extra]  # fmt: skip
        assert main(args) == 0
        capsys.readouterr()
        return _rows(out)["big.png"]

    capped = run("--max-pixels", "5000000")
    assert capped["reason"] == "decompression_bomb"
    assert capped["detail"] == "3000x3000 > max_pixels=5000000"
    assert run("--max-pixels", "9000000")["reason"] == "corrupt"  # at the cap: decoded (fails)
    assert run()["reason"] == "corrupt"  # the default cap is 89.5 Mpx
    # Above PIL's own hard limit the option is refused, not silently ignored.
    assert main(["curate", "--max-pixels", "500000000", "-o", str(tmp_path / "x")]) == 2
    assert "178956970" in capsys.readouterr().err


_WORKERS_RUN = """
import sys
from qpt.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_workers_die_with_a_killed_parent(tmp_path: Path, photos) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(40):
        im = list(photos.values())[i % len(photos)]
        Image.fromarray(im[: 300 + i, :300]).save(src / f"{i}.png")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    parent = subprocess.Popen(
        [sys.executable, "-c", _WORKERS_RUN, "curate", "--source", "folder", "--path", str(src),
         "-o", str(tmp_path / "out"), "--workers", "2", "--unit-size", "1", "--no-report"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
        workers = {
            p for p in _children(parent.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        }  # fmt: skip
        time.sleep(0.05)
    assert len(workers) == 2, "the pool never started"
    assert not (tmp_path / "out/manifest.parquet").exists()  # killed mid-run
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while any(pid_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p for p in workers if pid_alive(p)]
    for p in alive:  # do not leave them behind even when the test fails
        os.kill(p, signal.SIGKILL)
    assert not alive, "workers outlived their killed parent"
    assert json.loads((tmp_path / "out/qpt.lock").read_text())["pid"] == parent.pid
