"""Folder degradation (resumable, accounted for), the ``qpt degrade`` CLI and the stage."""

from __future__ import annotations

import io
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from degrade import Degrader
from degrade.folder import degrade_folder, read_image
from qpt_base.images import image_size


@pytest.fixture()
def folder(tmp_path: Path, photo: torch.Tensor) -> Path:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    arr = (photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr[:64, :64]).save(src / "a.png")
    Image.fromarray(arr[32:96, 16:96]).save(src / "sub" / "b.jpg", quality=95)
    Image.fromarray(arr[:72, :72, 0]).save(src / "grey.png")
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (src / "notes.txt").write_text("not an image")
    return src


def test_degrade_folder_accounts_and_replays(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    stats = degrade_folder(folder, out, preset="kadid", seed=3)
    assert stats == {"inputs": 4, "written": 3, "skipped": 0, "errors": 1}
    recs = [json.loads(line) for line in (out / "params.jsonl").read_text().splitlines()]
    assert sorted(r["source"] for r in recs) == ["a.png", "broken.png", "grey.png", "sub/b.jpg"]
    bad = [r for r in recs if r["status"] == "error"]
    assert len(bad) == 1 and "broken.png" in bad[0]["reason"]
    for r in recs:
        if r["status"] != "ok":
            continue
        x = read_image(folder / r["source"])
        y = read_image(out / r["output"])
        assert y.shape == x.shape
        assert torch.equal(Degrader("kadid").replay(x, [{"ops": r["ops"]}]), y)
    again = degrade_folder(folder, out, preset="kadid", seed=3)
    assert again == {"inputs": 4, "written": 0, "skipped": 4, "errors": 0}
    assert len((out / "params.jsonl").read_text().splitlines()) == 4


def test_degrade_folder_resumes_after_crash(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    degrade_folder(folder, out, preset="qpt-v2", seed=1, copies=2)
    lines = (out / "params.jsonl").read_text().splitlines()
    full = {json.loads(x)["id"]: json.loads(x) for x in lines}
    # simulate a crash: last record lost (half-written line), its output missing
    (out / "params.jsonl").write_text("\n".join(lines[:-1]) + '\n{"id": "cut')
    (out / full[json.loads(lines[-1])["id"]].get("output", "none")).unlink(missing_ok=True)
    stats = degrade_folder(folder, out, preset="qpt-v2", seed=1, copies=2)
    assert stats["written"] + stats["errors"] == 1 and stats["skipped"] == 7
    redone = json.loads((out / "params.jsonl").read_text().splitlines()[-1])
    assert redone == full[redone["id"]]  # same seed per image: same result after resume


def png_declaring(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR (CRC fixed) declares ``width`` x ``height``."""
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_read_image_rejects_bombs_and_junk(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(png_declaring(100_000, 100_000))
    with pytest.raises(ValueError, match="decompression bomb"):
        read_image(tmp_path / "bomb.png")
    (tmp_path / "x.png").write_bytes(b"hello")
    with pytest.raises(ValueError, match="cannot identify image file$"):
        read_image(tmp_path / "x.png")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")


def test_image_size_headers(folder: Path) -> None:
    assert image_size((folder / "a.png").read_bytes()) == (64, 64)
    assert image_size((folder / "sub" / "b.jpg").read_bytes()) == (80, 64)


def test_cli_degrade_and_gallery(folder: Path, tmp_path: Path) -> None:
    from qpt.cli import main

    out = tmp_path / "cli"
    assert main(["degrade", str(folder), str(out), "--preset", "realesrgan", "--json"]) == 0
    assert len((out / "params.jsonl").read_text().splitlines()) == 4
    png = tmp_path / "g.png"
    rc = main(["degrade", "gallery", str(png), "--op", "jpeg", "--op", "fog", "--size", "48"])
    assert rc == 0
    with Image.open(png) as im:
        assert im.size == (6 * 50 + 2, 2 * 50 + 2)
    assert main(["degrade", str(folder), str(out), "--preset", "nope"]) == 2
    assert main(["degrade", str(tmp_path / "missing"), str(out)]) == 2
    assert main(["degrade", "gallery", str(png), "--op", "nope"]) == 2
    assert main(["degrade", "ops", "--json"]) == 0


def test_stage(folder: Path, tmp_path: Path) -> None:
    from pydantic import ValidationError

    from qpt.stage import StageContext
    from qpt.stages.degrade import DegradeParams, run_degrade

    with pytest.raises(ValidationError):
        DegradeParams(input_dir=folder, preset="kadid", typo=1)
    with pytest.raises(ValidationError, match="unknown preset"):
        DegradeParams(input_dir=folder, preset="nope")
    ctx = StageContext("p", "deg", "degrade", tmp_path, tmp_path / "deg", seed=5, json_mode=True)
    ctx.out_dir.mkdir()
    summary = run_degrade(ctx, DegradeParams(input_dir=folder, preset="imagenet-c"))
    assert summary["seed"] == 5 and summary["written"] == 3 and summary["errors"] == 1
    assert run_degrade(ctx, DegradeParams(input_dir=folder, preset="imagenet-c"))["skipped"] == 4


@pytest.mark.parametrize("copies", [1, 2])
def test_inputs_differing_only_in_extension_keep_separate_outputs(
    tmp_path: Path, photo: torch.Tensor, copies: int
) -> None:
    """``x.jpg`` and ``x.png`` (and ``x.jpeg``) each get their own output, which replays from
    its own record: none is overwritten by another while logged ok."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    arr = (photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr[:48, :48]).save(src / "x.png")
    Image.fromarray(arr[40:88, 40:88]).save(src / "x.jpg", quality=90)
    Image.fromarray(arr[80:128, 0:48]).save(src / "x.jpeg", quality=90)
    stats = degrade_folder(src, out, preset="kadid", seed=0, copies=copies)
    assert stats["written"] == 3 * copies and stats["errors"] == 0
    recs = [json.loads(line) for line in (out / "params.jsonl").read_text().splitlines()]
    outputs = [r["output"] for r in recs]
    assert len(set(outputs)) == 3 * copies
    want = {"x.png.png", "x.jpg.png", "x.jpeg.png"}
    if copies == 2:
        want = {f"{k}.{c}.png" for k in ("x.png", "x.jpg", "x.jpeg") for c in (0, 1)}
    assert set(outputs) == want
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(want)
    for r in recs:
        x = read_image(src / r["source"])
        y = Degrader("kadid").replay(x, [{"ops": r["ops"]}])
        assert torch.equal(y, read_image(out / r["output"]))


def test_images_above_the_pixel_limit_get_an_error_record_unread(
    folder: Path, tmp_path: Path
) -> None:
    """A 10000 x 10000 header (a 1x1 PNG declaring it: cheap) is refused from its header with
    a per-image error naming size and limit; the others are degraded; the limit is a knob."""
    from degrade.params import DEGRADE_MAX_PIXELS

    (folder / "huge.png").write_bytes(png_declaring(10_000, 10_000))
    side = int(DEGRADE_MAX_PIXELS**0.5)
    (folder / "at_limit.png").write_bytes(png_declaring(side, side))  # passes the size check
    (folder / "above.png").write_bytes(png_declaring(side, side + 1))
    out = tmp_path / "out"
    stats = degrade_folder(folder, out, preset="kadid", seed=0)
    assert stats == {"inputs": 7, "written": 3, "skipped": 0, "errors": 4}
    recs = {
        json.loads(line)["source"]: json.loads(line)
        for line in (out / "params.jsonl").read_text().splitlines()
    }
    for name, size in (("huge.png", "10000x10000"), ("above.png", f"{side}x{side + 1}")):
        assert recs[name]["status"] == "error"
        assert f"{size} = " in recs[name]["reason"]
        assert f"above the limit of {DEGRADE_MAX_PIXELS} pixels" in recs[name]["reason"]
    # at the limit: not refused for its size (the 1x1 body then fails to decode)
    assert "above the limit" not in recs["at_limit.png"]["reason"]
    small = degrade_folder(folder, tmp_path / "small", preset="kadid", seed=0, max_pixels=4096)
    assert small["errors"] == 6  # + 64 x 80 and 72 x 72 (above 4096); a.png's 64 x 64 is not


def test_cli_max_pixels_option(folder: Path, tmp_path: Path) -> None:
    from qpt.cli import main

    out = tmp_path / "cli"
    assert main(["degrade", str(folder), str(out), "--max-pixels", "4096", "--json"]) == 0
    recs = [json.loads(line) for line in (out / "params.jsonl").read_text().splitlines()]
    assert sum("above the limit of 4096 pixels" in r.get("reason", "") for r in recs) == 2


def test_truncated_png_is_an_error_record_not_a_crash(tmp_path: Path) -> None:
    """A PNG whose header declares more pixels than its data holds crashed the process in
    torchvision's decoder; it is now one error record (checked in a child process)."""
    import subprocess
    import sys

    src = tmp_path / "in"
    src.mkdir()
    (src / "short.png").write_bytes(png_declaring(2, 2))
    code = (
        "import sys, json; from degrade.folder import degrade_folder; "
        "print(json.dumps(degrade_folder(sys.argv[1], sys.argv[2], preset='kadid')))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(src), str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-500:]
    assert json.loads(run.stdout.splitlines()[-1])["errors"] == 1
    rec = json.loads((tmp_path / "out" / "params.jsonl").read_text())
    assert rec["status"] == "error" and "truncated" in rec["reason"]
