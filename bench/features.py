"""Frozen features of a dataset through a backbone, cached on disk for resumption.

One row per sample: the mean of the backbone's pooled features over the sample's views
(native-resolution crops of an image; crops of each sampled frame of a video, i.e. mean
pooling over space and time). Samples that cannot be decoded are skipped, counted and named
in the result (``ok`` is False for them); they never stop the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bench.backbones import Backbone
from bench.datasets.base import BenchDataset
from bench.media import CropMode, UnreadableMedia, make_crops, read_image, read_video_frames
from qpt_base.atomic import atomic_path
from qpt_base.fingerprint import fingerprint


@dataclass(frozen=True)
class InputConfig:
    """How samples become backbone inputs.

    Attributes:
        crops: views per image (or per video frame) at test time, averaged.
        mode: ``crops`` (native resolution) or ``resize`` (squash).
        frames: frames sampled per video.
        batch_size: views per forward pass.
    """

    crops: int = 1
    mode: CropMode = "crops"
    frames: int = 4
    batch_size: int = 32


@dataclass
class FeatureSet:
    """``features``: (N, D) float32 (zeros where ``ok`` is False); ``unreadable``: key -> why."""

    features: np.ndarray
    ok: np.ndarray
    unreadable: dict[str, str]


def load_pixels(dataset: BenchDataset, index: int, frames: int) -> list[np.ndarray]:
    """The RGB frames of sample ``index``: one for an image, ``frames`` for a video.

    Raises:
        UnreadableMedia: the file cannot be decoded.
    """
    if dataset.reader is not None:
        return [dataset.reader(index)]
    path = dataset.samples[index].path
    if path is None:
        raise UnreadableMedia(f"{dataset.samples[index].key}: no file")
    if dataset.media == "video":
        return read_video_frames(path, frames)
    return [read_image(path)]


def extract_features(
    backbone: Backbone,
    dataset: BenchDataset,
    config: InputConfig,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> FeatureSet:
    """Features of every sample of ``dataset`` (see the module docstring).

    Args:
        progress: called with the number of samples just finished (for a progress bar).
    """
    model_device = torch.device(device)
    backbone.model.to(model_device)
    n = len(dataset)
    feats = np.zeros((n, backbone.num_features), dtype=np.float32)
    ok = np.zeros(n, dtype=bool)
    unreadable: dict[str, str] = {}

    def on_unreadable(index: int, exc: UnreadableMedia) -> None:
        unreadable[dataset.samples[index].key] = str(exc)

    def views_of(frames: list[np.ndarray]) -> torch.Tensor:
        return torch.cat(
            [make_crops(f, backbone.img_size, config.crops, config.mode) for f in frames]
        )

    groups = view_groups(dataset, range(n), config.frames, views_of, config.batch_size,
                         on_unreadable, progress)  # fmt: skip
    for group in groups:
        views = torch.cat([v for _, v in group]).to(model_device)
        out = torch.cat(
            [
                backbone.features(views[i : i + config.batch_size])
                for i in range(0, len(views), config.batch_size)
            ]
        ).cpu()
        start = 0
        for index, v in group:
            feats[index] = out[start : start + len(v)].mean(0).numpy()
            ok[index] = True
            start += len(v)
        if progress:
            progress(len(group))
    return FeatureSet(feats, ok, unreadable)


def view_groups(
    dataset: BenchDataset,
    indices: Iterable[int],
    frames: int,
    views_of: Callable[[list[np.ndarray]], torch.Tensor],
    batch_size: int,
    on_unreadable: Callable[[int, UnreadableMedia], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[list[tuple[int, torch.Tensor]]]:
    """The samples ``indices`` read and cut into views, grouped until a group holds
    ``batch_size`` views.

    Yields lists of ``(position in indices, views)`` (views: (V, 3, S, S)); an unreadable
    sample goes to ``on_unreadable(position, error)`` and counts once on ``progress`` instead.
    """
    group: list[tuple[int, torch.Tensor]] = []
    queued = 0
    for pos, index in enumerate(indices):
        try:
            pixels = load_pixels(dataset, int(index), frames)
        except UnreadableMedia as exc:
            if on_unreadable:
                on_unreadable(pos, exc)
            if progress:
                progress(1)
            continue
        views = views_of(pixels)
        group.append((pos, views))
        queued += len(views)
        if queued >= batch_size:
            yield group
            group, queued = [], 0
    if group:
        yield group


def cached_features(
    cache_dir: Path,
    backbone: Backbone,
    dataset: BenchDataset,
    config: InputConfig,
    device: str | torch.device = "cpu",
    progress: Callable[[int], None] | None = None,
) -> FeatureSet:
    """:func:`extract_features`, reusing ``cache_dir/<key>.npz`` written by an earlier run.

    The key covers the backbone (name, source, architecture), the dataset's sample keys and the
    input config, so a changed checkpoint or setting never reuses stale features.
    """
    keys = [s.key for s in dataset.samples]
    cfg = asdict(config)
    cfg.pop("batch_size")
    key = fingerprint(backbone.name, backbone.source, backbone.arch, dataset.name, keys, cfg)
    path = cache_dir / f"{dataset.name}-{backbone.name}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as data:
            unreadable = json.loads(str(data["unreadable"]))
            if progress:
                progress(len(dataset))
            return FeatureSet(data["features"], data["ok"], unreadable)
    result = extract_features(backbone, dataset, config, device, progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        unreadable = json.dumps(result.unreadable)
        np.savez(handle, features=result.features, ok=result.ok, unreadable=unreadable)
    return result
