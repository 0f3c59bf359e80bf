"""Tiny copies of the official dataset releases, file for file, made from images we generate.

Each ``make_<dataset>(root, n)`` writes the release's score files with the official names,
columns / MATLAB variable names and folder structure (checked against the authors' public
documentation and, for LIVE Challenge, against the real files in ../shared/data/livec-dev),
with ``n`` small images or videos whose brightness follows the score. Each returns the
release folder and the list of expected ``(key, score)`` pairs.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy.io import savemat


def image(path: Path, value: float, size: tuple[int, int] = (36, 48), seed: int = 0) -> None:
    """A small noisy image whose mean brightness grows with ``value`` in [0, 1]."""
    rng = np.random.default_rng(seed)
    base = np.clip(40 + 170 * value + rng.normal(0, 12, (*size, 3)), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(base).save(path)


def video(path: Path, value: float, frames: int = 6, size: tuple[int, int] = (24, 32)) -> None:
    """A tiny mp4 (OpenCV mp4v) whose brightness grows with ``value``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (size[1], size[0]))
    for i in range(frames):
        writer.write(np.full((*size, 3), int(40 + 170 * value) + i, np.uint8))
    writer.release()


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _scores(n: int, lo: float, hi: float, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(lo, hi, n), 4)


def _cell(names: list[str]) -> np.ndarray:
    """A MATLAB cell array of strings (N x 1), as the LIVE releases store file names."""
    cell = np.empty((len(names), 1), dtype=object)
    for i, name in enumerate(names):
        cell[i, 0] = np.array([name])
    return cell


def make_livec(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "ChallengeDB_release"
    names = [f"t{i}.bmp" for i in range(1, 8)] + [
        f"{100 + i}.bmp" if i % 2 else f"{1000 + i}.JPG" for i in range(n)
    ]
    mos = _scores(len(names), 5, 95)
    for i, name in enumerate(names):
        sub = "Images/trainingImages" if i < 7 else "Images"
        image(rel / sub / name, mos[i] / 100, seed=i)
    (rel / "Data").mkdir(parents=True, exist_ok=True)
    savemat(rel / "Data" / "AllImages_release.mat", {"AllImages_release": _cell(names)})
    savemat(rel / "Data" / "AllMOS_release.mat", {"AllMOS_release": mos[None, :]})
    savemat(rel / "Data" / "AllStdDev_release.mat", {"AllStdDev_release": np.ones((1, len(names)))})
    return rel, [(names[i], float(mos[i])) for i in range(7, len(names))]


def make_koniq(
    root: Path, n: int = 12, with_sets: bool = True
) -> tuple[Path, list[tuple[str, float]]]:
    """KonIQ-10k with either official score file, each on its own scale.

    ``koniq10k_distributions_sets.csv`` (the authors' metadata/ file): ``c1..c5`` vote fractions,
    ``MOS`` rescaled to 0..100, ``SD`` on the 5-point scale, ``set``.
    ``koniq10k_scores_and_distributions.csv``: ``c1..c5`` vote counts, ``MOS`` = mean vote on
    1..5, ``MOS_zscore`` on 0..100. The expected scores are the file's ``MOS``.
    """
    rel = root / "koniq10k"
    rng = np.random.default_rng(0)
    names = [f"{10004473376 + 7919 * i}.jpg" for i in range(n)]
    sets = ["training", "validation", "test"]
    rows, expected = [], []
    for i, name in enumerate(names):
        counts = rng.integers(0, 40, 5)
        counts[i % 5] += 5
        total = int(counts.sum())
        mos5 = float((np.arange(1, 6) * counts).sum() / total)
        sd = float(np.sqrt((((np.arange(1, 6) - mos5) ** 2) * counts).sum() / (total - 1)))
        rescaled = round((mos5 - 1) / 4 * 100, 6)
        image(rel / "1024x768" / name, (mos5 - 1) / 4, seed=i)
        if with_sets:
            fractions = [round(c / total, 12) for c in counts]
            rows.append([name, *fractions, total, rescaled, round(sd, 9), sets[i % 3]])
            expected.append((name, rescaled))
        else:
            rows.append([name, *map(int, counts), total, round(mos5, 9), round(sd, 9), rescaled])
            expected.append((name, round(mos5, 9)))
    if with_sets:
        header = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "set"]
        _write_csv(rel / "koniq10k_distributions_sets.csv", header, rows)
    else:
        header = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"]
        _write_csv(rel / "koniq10k_scores_and_distributions.csv", header, rows)
    return rel, expected


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """A minimal valid .xlsx (shared strings for text, numbers inline), one sheet."""
    strings: list[str] = []
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if isinstance(value, str):
                strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    data = "".join(sheet_rows)
    sheet = f'<?xml version="1.0"?><worksheet {ns}><sheetData>{data}</sheetData></worksheet>'
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    shared = f'<?xml version="1.0"?><sst {ns} count="{len(strings)}">{sst}</sst>'
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook {ns}/>')
        zf.writestr("xl/sharedStrings.xml", shared)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)


def make_spaq(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "SPAQ"
    mos = _scores(n, 5, 95)
    names = [f"{i + 1:05d}.jpg" for i in range(n)]
    rows: list[list[object]] = [
        ["Image name", "MOS", "Brightness", "Colorfulness", "Contrast", "Noisiness", "Sharpness"]
    ]
    for i, name in enumerate(names):
        image(rel / "TestImage" / name, mos[i] / 100, seed=i)
        rows.append([name, float(mos[i]), 50, 50, 50, 50, 50])
    write_xlsx(rel / "Annotations" / "MOS and Image attribute scores.xlsx", rows)
    return rel, [(names[i], float(mos[i])) for i in range(n)]


def make_flive(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "FLIVE"
    mos = _scores(n, 10, 90)
    names = [
        f"voc_emotic_ava/AVA__{100 + i}.jpg" if i % 2 else f"blur_dataset/motion{i}.jpg"
        for i in range(n)
    ]
    for i, name in enumerate(names):
        image(rel / "database" / name, mos[i] / 100, seed=i)
    _write_csv(
        rel / "labels_image.csv",
        ["name", "mos", "width", "height"],
        [[nm, m, 48, 36] for nm, m in zip(names, mos, strict=True)],
    )
    return rel, [(names[i], float(mos[i])) for i in range(n)]


def make_kadid(root: Path, refs: int = 4, dists: int = 3) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "kadid10k"
    rows, expected = [], []
    for r in range(1, refs + 1):
        image(rel / "images" / f"I{r:02d}.png", 0.9, seed=r)
        for d in range(1, dists + 1):
            for level in (1, 3):
                name = f"I{r:02d}_{d:02d}_{level:02d}.png"
                score = round(5.0 - level + 0.1 * d, 3)
                image(rel / "images" / name, (score - 1) / 4, seed=r * 100 + d)
                rows.append([name, f"I{r:02d}.png", score, 0.1])
                expected.append((name, score))
    _write_csv(rel / "dmos.csv", ["dist_img", "ref_img", "dmos", "var"], rows)
    return rel, expected


def make_ava(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "AVA_dataset"
    rng = np.random.default_rng(0)
    lines, expected = [], []
    for i in range(n):
        image_id = str(953619 + i)
        counts = rng.integers(0, 30, 10)
        counts[4] += 1
        mean = float((np.arange(1, 11) * counts).sum() / counts.sum())
        image(rel / "images" / f"{image_id}.jpg", (mean - 1) / 9, seed=i)
        lines.append(" ".join([str(i + 1), image_id, *map(str, counts), "1", "20", "1396"]))
        expected.append((image_id, mean))
    (rel / "AVA.txt").write_text("\n".join(lines) + "\n")
    test = [expected[i][0] for i in range(0, n, 3)]
    (rel / "aesthetics_image_lists").mkdir(parents=True, exist_ok=True)
    (rel / "aesthetics_image_lists" / "generic_test.jpgl").write_text("\n".join(test) + "\n")
    return rel, expected


def make_aadb(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "AADB"
    scores = _scores(n, 0, 1)
    names = [f"farm1_{255 + i}_{19 * i}_{i:04x}.jpg" for i in range(n)]
    train, test = [], []
    for i, name in enumerate(names):
        folder = "AADB_newtest_originalSize" if i % 4 == 0 else "datasetImages_originalSize"
        image(rel / folder / name, scores[i], seed=i)
        (test if i % 4 == 0 else train).append(f"{name} {scores[i]}")
    labels = rel / "imgListFiles_label"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "imgListTrainRegression_score.txt").write_text("\n".join(train) + "\n")
    (labels / "imgListTestNewRegression_score.txt").write_text("\n".join(test) + "\n")
    (labels / "imgListValidationRegression_score.txt").write_text("")
    return rel, [(names[i], float(scores[i])) for i in range(n)]


def make_tad66k(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "TAD66K"
    scores = _scores(n, 1, 10)
    names = [f"{i}_{i * 31 % 97}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        image(rel / "imgs" / name, (scores[i] - 1) / 9, seed=i)
    rows = [[name, s] for name, s in zip(names, scores, strict=True)]
    _write_csv(rel / "labels" / "merge" / "train.csv", ["image", "score"], rows[: n * 3 // 4])
    _write_csv(rel / "labels" / "merge" / "test.csv", ["image", "score"], rows[n * 3 // 4 :])
    return rel, [(names[i], float(scores[i])) for i in range(n)]


def make_konvid(root: Path, n: int = 8) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "KoNViD_1k"
    mos = _scores(n, 1, 5)
    ids = [str(3337642103 + 11 * i) for i in range(n)]
    for i, fid in enumerate(ids):
        video(rel / "KoNViD_1k_videos" / f"{fid}.mp4", (mos[i] - 1) / 4)
    rows = [
        [fid, f"{fid}_original_centercrop_960x540_8s.mp4", m, 0.5]
        for fid, m in zip(ids, mos, strict=True)
    ]
    _write_csv(rel / "KoNViD_1k_attributes.csv", ["flickr_id", "file_name", "MOS", "SD"], rows)
    return rel, [(ids[i], float(mos[i])) for i in range(n)]


def make_livevqc(root: Path, n: int = 8) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "LIVE-VQC"
    mos = _scores(n, 5, 95)
    names = [f"A{i + 1:03d}.mp4" for i in range(n)]
    for i, name in enumerate(names):
        video(rel / "Video" / name, mos[i] / 100)
    savemat(rel / "data.mat", {"video_list": _cell(names), "mos": mos[:, None]})
    return rel, [(names[i], float(mos[i])) for i in range(n)]


def make_lsvq(root: Path, n: int = 12) -> tuple[Path, list[tuple[str, float]]]:
    rel = root / "LSVQ"
    mos = _scores(n, 5, 95)
    names = [f"{'ia' if i % 2 else 'yfcc'}-batch{1 + i % 3}/{10000 + i}" for i in range(n)]
    for i, name in enumerate(names):
        video(rel / f"{name}.mp4", mos[i] / 100)
    header = [
        "name",
        "p1",
        "p2",
        "p3",
        "height",
        "width",
        "mos_p1",
        "mos_p2",
        "mos_p3",
        "mos",
        "frame_number",
    ]
    rows = [[nm, 0, 0, 0, 24, 32, m, m, m, m, 6] for nm, m in zip(names, mos, strict=True)]
    _write_csv(rel / "LSVQ_whole_train.csv", header, rows[: n // 2])
    _write_csv(rel / "LSVQ_whole_test.csv", header, rows[n // 2 : n * 3 // 4])
    _write_csv(rel / "LSVQ_whole_test_1080p.csv", header, rows[n * 3 // 4 :])
    return rel, [(names[i], float(mos[i])) for i in range(n)]


MAKERS = {
    "livec": make_livec,
    "koniq": make_koniq,
    "spaq": make_spaq,
    "flive": make_flive,
    "kadid": make_kadid,
    "ava": make_ava,
    "aadb": make_aadb,
    "tad66k": make_tad66k,
    "konvid": make_konvid,
    "livevqc": make_livevqc,
    "lsvq": make_lsvq,
}
