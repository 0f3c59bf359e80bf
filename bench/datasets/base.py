"""What every benchmark dataset is: samples with human scores, a direction, a protocol.

A *family* module (``livec.py``, ``koniq.py``, ...) registers one :class:`DatasetSpec` per
benchmark it knows: where to recognise the official release on disk (``markers``), the
expected layout (printed when it is missing), and ``load(root) -> BenchDataset``.

Loaders never trim silently. A score file that lists media absent on disk raises
``ValueError`` naming the file (or, with ``allow_partial=True``, keeps the present ones and
records the others in ``BenchDataset.missing``, which every report shows). Duplicate names in a
score file, rows that do not parse, and empty datasets are errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

Task = Literal["iqa", "vqa", "iaa"]
Media = Literal["image", "video"]


@dataclass(frozen=True)
class Sample:
    """One scored image or video.

    Attributes:
        key: unique name inside the dataset (the name used by the official score file).
        path: file on disk (``None`` for generated samples, see ``BenchDataset.reader``).
        score: human score in the dataset's own units and direction.
        group: content id; random splits keep a group on one side (KADID reference image,
            synthetic source photo), ``None`` means every sample is its own group.
    """

    key: str
    path: Path | None
    score: float
    group: str | None = None


@dataclass
class BenchDataset:
    """A loaded benchmark.

    Attributes:
        name: registry name (``livec``, ``koniq``, ...).
        task: ``iqa`` / ``vqa`` / ``iaa``.
        media: ``image`` or ``video``.
        samples: every usable sample, in score-file order.
        score_range: nominal range of the human scores (for RMSE context and plots).
        higher_better: False for DMOS-like scores and degradation levels.
        official_split: ``{"train": idx, "test": idx}`` into ``samples`` when the authors
            publish one (a single split then replaces the random ones).
        missing: keys the score file lists but the disk lacks (only with ``allow_partial``).
        root: the release folder the samples were read from.
        reader: how to get pixels for generated samples (``synthetic``); ``None`` reads
            ``Sample.path``.
    """

    name: str
    task: Task
    media: Media
    samples: list[Sample]
    score_range: tuple[float, float]
    higher_better: bool = True
    official_split: dict[str, list[int]] | None = None
    missing: list[str] = field(default_factory=list)
    root: Path | None = None
    reader: Callable[[int], np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def scores(self) -> np.ndarray:
        """(N,) float64 human scores."""
        return np.array([s.score for s in self.samples], dtype=np.float64)

    def subset(self, indices: Sequence[int]) -> BenchDataset:
        """The same dataset restricted to ``indices`` (official split re-indexed)."""
        keep = [int(i) for i in indices]  # readers take Python ints (torch seeds refuse numpy's)
        pos = {old: new for new, old in enumerate(keep)}
        split = None
        if self.official_split is not None:
            split = {k: [pos[i] for i in v if i in pos] for k, v in self.official_split.items()}
        reader = None
        if self.reader is not None:
            base = self.reader

            def reader(i: int) -> np.ndarray:
                return base(keep[i])

        return BenchDataset(
            name=self.name,
            task=self.task,
            media=self.media,
            samples=[self.samples[i] for i in keep],
            score_range=self.score_range,
            higher_better=self.higher_better,
            official_split=split,
            missing=list(self.missing),
            root=self.root,
            reader=reader,
        )


@dataclass(frozen=True)
class DatasetSpec:
    """How to find and read one benchmark in its official release layout.

    Attributes:
        name: registry name, used on the command line (``qpt bench run livec``).
        title: human name (``LIVE Challenge``).
        task: ``iqa`` / ``vqa`` / ``iaa``.
        markers: paths relative to the release root whose presence identifies it; any one
            marker is enough (releases ship alternative score files).
        layout: the expected layout, shown when the dataset is missing or incomplete.
        load: ``load(root, allow_partial) -> BenchDataset``.
        protocol: ``official`` (authors' split) or ``random`` (repeated 80/20 splits).
        source: where users download it.
        requires: paths that must also exist beside a marker (a generic marker name such as
            ``data.mat`` alone does not identify a release).
    """

    name: str
    title: str
    task: Task
    markers: tuple[str, ...]
    layout: str
    load: Callable[[Path, bool], BenchDataset]
    protocol: Literal["official", "random"] = "random"
    source: str = ""
    requires: tuple[str, ...] = ()

    def locate(self, data_root: Path, folders: Sequence[Path] | None = None) -> Path | None:
        """The release folder under ``data_root``: the shallowest folder holding a marker.

        Args:
            folders: candidate folders, shallowest first (default: :func:`candidate_folders`;
                pass them when locating many specs so the tree is listed once).
        """
        for folder in candidate_folders(data_root) if folders is None else folders:
            if any((folder / m).is_file() for m in self.markers) and all(
                (folder / r).exists() for r in self.requires
            ):
                return folder
        return None


def candidate_folders(data_root: Path, max_depth: int = 3) -> list[Path]:
    """``data_root`` and its sub-folders up to ``max_depth`` levels, shallowest first.

    Hidden folders are skipped. Each folder is listed once (``os.scandir``), so a release with
    hundreds of thousands of images in one folder costs one listing, not one per marker.
    """
    data_root = Path(data_root)
    if not data_root.is_dir():
        return []
    found, level = [data_root], [data_root]
    for _ in range(max_depth):
        nxt = []
        for folder in level:
            try:
                with os.scandir(folder) as it:
                    subs = [Path(e.path) for e in it if e.is_dir() and not e.name.startswith(".")]
            except OSError:
                continue
            nxt.extend(sorted(subs))
        found.extend(nxt)
        level = nxt
    return found


def expected_layout(spec: DatasetSpec) -> str:
    """One block of text: title, source and the expected files."""
    head = f"{spec.name} ({spec.title})"
    if spec.source:
        head += f", from {spec.source}"
    return head + ":\n" + "\n".join("    " + line for line in spec.layout.strip().splitlines())


def check_entries(
    dataset: str,
    score_file: Path | str,
    entries: Sequence[Entry],
    score_range: tuple[float, float] | None = None,
    scores: bool = True,
) -> None:
    """Check the rows read from one score file: usable unique names, finite in-range scores.

    Args:
        scores: False checks the names only (releases keeping names and scores in two files
            check each against its own file).

    Raises:
        ValueError: naming ``score_file``: an empty name, one with control characters or one
            leaving the release folder, a duplicate, a score that is not finite or lies
            outside ``score_range``.
    """
    seen: set[str] = set()
    for key, score, _path, _group in entries:
        check_name(dataset, score_file, key)
        if key in seen:
            raise ValueError(f"{dataset}: {score_file}: duplicate name {short(key)}")
        seen.add(key)
        if not scores:
            continue
        if not np.isfinite(score):
            raise ValueError(
                f"{dataset}: {score_file}: score of {short(key)} is not a number ({score})"
            )
        if score_range is not None and not score_range[0] <= score <= score_range[1]:
            lo, hi = score_range
            raise ValueError(
                f"{dataset}: {score_file}: score of {short(key)} is {score:g}, outside the "
                f"documented range {lo:g}..{hi:g}"
            )


def resolve_media(
    dataset: str,
    score_file: Path | Sequence[Path],
    entries: Sequence[Entry],
    allow_partial: bool,
    score_range: tuple[float, float] | None = None,
) -> tuple[list[Sample], list[str]]:
    """Turn ``(key, score, path, group)`` rows into samples, checking names, scores and files.

    Args:
        score_file: the file the rows come from (or the files, for releases with one file per
            side of the official split).

    Raises:
        ValueError: a row failing :func:`check_entries`, no row at all, or files missing
            without ``allow_partial``; every message names the score file(s).
    """
    files = [score_file] if isinstance(score_file, Path) else list(score_file)
    where = " + ".join(str(f) for f in files)
    check_entries(dataset, where, entries, score_range)
    if not entries:
        raise ValueError(f"{dataset}: {where}: no scored entry")
    samples: list[Sample] = []
    missing: list[str] = []
    for key, score, path, group in entries:
        if path.is_file():
            samples.append(Sample(key, path, float(score), group))
        else:
            missing.append(key)
    if missing and not allow_partial:
        raise ValueError(
            f"{dataset}: {len(missing)} of {len(entries)} files listed in {where} are missing "
            f"(first: {missing[0]}); pass allow_partial to run on the {len(samples)} present "
            "(they are reported)"
        )
    if not samples:
        raise ValueError(f"{dataset}: none of the {len(entries)} files in {where} exist")
    return samples, missing


def pick_folder(
    dataset: str,
    score_file: Path,
    root: Path,
    candidates: Sequence[str],
    names: Sequence[str],
    probe: int = 64,
) -> Path:
    """The media folder of a release: the candidate holding most of the first listed files.

    Releases are repacked in several ways (``images/``, ``images/images/``, ...); only the
    first ``probe`` names are looked up in each candidate, so the choice costs a few stats.

    Args:
        candidates: folders relative to ``root``, preferred first (ties go to the earlier).
        names: file names relative to the media folder, in score-file order.

    Raises:
        ValueError: no candidate holds any of them; the message lists every folder searched.
    """
    if not names:
        return root / candidates[0]
    sample = names[:probe]
    best, hits = None, 0
    for rel in candidates:
        folder = root / rel
        if folder.is_dir():
            found = sum((folder / name).is_file() for name in sample)
            if found > hits:
                best, hits = folder, found
    if best is None:
        searched = ", ".join(f"{root / rel}/" for rel in candidates)
        raise ValueError(
            f"{dataset}: none of the files listed in {score_file} (first: {names[0]}) is in "
            f"any folder searched: {searched}"
        )
    return best


def short(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to ``limit`` characters (names from a corrupt file can be huge)."""
    r = repr(text)
    return r if len(r) <= limit else r[: limit - 4] + "...'"


def check_name(dataset: str, score_file: Path | str, key: str) -> None:
    """A score file's media name must be a relative path inside the release, as plain text."""
    bad = ""
    if not key or not key.strip():
        bad = "an empty name"
    elif not key.isprintable():
        bad = f"a name with control characters ({short(key)})"
    elif Path(key).is_absolute() or ".." in Path(key).parts:
        bad = f"a name leaving the release folder ({short(key)})"
    else:
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            bad = f"a name that is not valid text ({short(key)})"
    if bad:
        raise ValueError(f"{dataset}: {score_file}: {bad}")


Entry = tuple[str, float, Path, "str | None"]  # (key, score, path, group) of a score file row


def make_dataset(
    name: str,
    task: Task,
    media: Media,
    score_range: tuple[float, float],
    score_file: Path | Sequence[Path],
    entries: Sequence[Entry],
    allow_partial: bool,
    root: Path,
    parts: dict[str, set[str]] | None = None,
) -> BenchDataset:
    """A dataset from score-file rows (checked by :func:`resolve_media` against ``score_range``).

    Args:
        parts: the official split as key sets (``{"train": ..., "test": ...}``); samples in
            neither (KonIQ's validation set) stay in the dataset but out of the split.
    """
    samples, missing = resolve_media(name, score_file, entries, allow_partial, score_range)
    split = split_indices(samples, parts) if parts is not None else None
    return BenchDataset(
        name, task, media, samples, score_range, True, split, missing=missing, root=root
    )


def split_indices(samples: Sequence[Sample], parts: dict[str, set[str]]) -> dict[str, list[int]]:
    """Official split as indices: ``{"train": [...], "test": [...]}`` from sets of keys."""
    return {
        name: [i for i, s in enumerate(samples) if s.key in keys] for name, keys in parts.items()
    }
