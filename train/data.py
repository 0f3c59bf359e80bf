"""Stream training crops from WebDataset shards (``KEY.jpg|png|webp`` + ``KEY.json``).

Composable webdataset stages, per (rank, DataLoader worker)::

    ResampledShards(seed, epoch) -> split_by_node -> split_by_worker -> tarfile_to_samples
      -> decode_and_crop -> shuffle(buffer) -> batched(collate) -> with_epoch(batches here)

Every source of randomness (shard order, crop positions) derives from ``(seed, epoch, rank,
worker)``, so an epoch is replayable: a run resumed from a checkpoint taken at an epoch
boundary sees exactly the batches an uninterrupted run sees. Corrupt samples are skipped and
counted (``batch["skipped"]``), never silently dropped.
"""

from __future__ import annotations

import glob
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import webdataset as wds
from torch.utils.data import DataLoader, IterableDataset

from qpt_base.images import MAX_PIXELS, decode_tensor

from .urls import expand, is_url, register_fsspec

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
MAX_CONSECUTIVE_FAILURES = 1000


def resolve_shards(spec: str | Path | list[str]) -> list[str]:
    """Shard paths from a folder, a brace pattern (``shard-{000000..000009}.tar``) or a glob,
    or URLs as webdataset takes them (``pipe:CMD``, ``https://...``, fsspec's ``s3://...``;
    see :mod:`train.urls`), brace patterns included.

    In a folder written by ``qpt shard``, only shards whose ``shard-XXXXXX.json`` completion
    marker exists are used (incomplete ones are still being written). URLs are not checked
    before they are read.

    Raises:
        FileNotFoundError: nothing matches, or a listed local shard does not exist.
        ValueError: a URL scheme that neither webdataset nor fsspec knows.
    """
    if isinstance(spec, list):
        urls = [str(u) for u in spec]
    else:
        spec = str(spec)
        if is_url(spec):
            urls = expand(spec)
        elif Path(spec).is_dir():
            tars = sorted(Path(spec).glob("*.tar"))
            done = [t for t in tars if t.with_suffix(".json").is_file()]
            urls = [str(t) for t in (done or tars)]
        elif any(c in spec for c in "*?["):
            urls = sorted(glob.glob(spec))
        elif "{" in spec:
            urls = wds.shardlists.expand_urls(spec)
        elif Path(spec).is_file():
            urls = [spec]
        else:
            raise FileNotFoundError(f"shards '{spec}': no such folder or shard file")
    if not urls:
        raise FileNotFoundError(f"shards '{spec}': no .tar shard matches")
    missing = [u for u in urls if not is_url(u) and not Path(u).is_file()]
    if missing:
        raise FileNotFoundError(f"shard {missing[0]}: not found ({len(missing)} missing)")
    register_fsspec(urls)
    return urls


def _constant_seed() -> int:
    # every rank and worker draws the same shard sequence; split_by_node/worker then deal it
    return 0


@dataclass
class _Skips:
    """Per-worker counters of skipped samples since the last batch (by reason)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1

    def take(self) -> dict[str, int]:
        out, self.counts = self.counts, {}
        return out


def decode_image(data: bytes, max_pixels: int) -> torch.Tensor:
    """Encoded bytes -> (3, H, W) uint8 RGB; size checked from the header before decoding.

    Raises:
        ValueError: unreadable, or more than ``max_pixels`` pixels (decompression bomb).
    """
    return decode_tensor(data, max_pixels)


def random_crop(
    img: torch.Tensor,
    size: int,
    rng: random.Random,
    crop: Literal["native", "resize"] = "native",
    resize_to: int | None = None,
) -> tuple[torch.Tensor, bool]:
    """Random ``size`` x ``size`` crop, (3, H, W) uint8 -> (3, size, size).

    ``native`` keeps the original pixels (no resampling, so no quality change) unless the
    image is smaller than ``size``, in which case its short side is upscaled to ``size``.
    ``resize`` first resizes the short side to ``resize_to`` (antialiased).

    Returns:
        the crop and whether the image had to be resampled.
    """
    from torchvision.transforms.v2 import functional as TF

    h, w = img.shape[-2:]
    target = resize_to if crop == "resize" and resize_to else None
    if target is None and min(h, w) < size:
        target = size
    resampled = target is not None and target != min(h, w)
    if resampled:
        img = TF.resize(img, target, antialias=True)
        h, w = img.shape[-2:]
    top, left = rng.randint(0, h - size), rng.randint(0, w - size)
    return img[:, top : top + size, left : left + size].contiguous(), resampled


class ShardStream(IterableDataset):
    """Endless, epoch-seeded stream of uint8 crop batches from shards.

    Args:
        urls: shard paths (see :func:`resolve_shards`).
        img_size: crop size.
        batch_size: images per batch (per rank).
        batches_per_epoch: batches one rank yields per epoch, over all its workers.
        seed: run seed; call :meth:`set_epoch` before each ``iter()``.
        crop, resize_to: see :func:`random_crop`.
        max_pixels: decompression-bomb cap.
        shuffle_buffer: crops mixed (across shards) before batching; 0 = shard order.
        crops_per_image: random crops taken from each decoded image (decoding a large photo
            costs far more than cropping it; the shuffle buffer spreads the crops apart).
        degrade: a ``degrade`` preset applied to each whole batch inside the worker (for CPU
            training, where the workers' cores are the training device); None = not here.

    Yields:
        ``{"images": (B, 3, S, S) uint8, "keys": list[str], "skipped": {reason: n},
        "resampled": int}`` plus ``"degraded": (B, 3, S, S) float [0, 1]`` with ``degrade``.
    """

    def __init__(
        self,
        urls: list[str],
        img_size: int,
        batch_size: int,
        batches_per_epoch: int,
        seed: int = 0,
        crop: Literal["native", "resize"] = "native",
        resize_to: int | None = None,
        max_pixels: int = MAX_PIXELS,
        shuffle_buffer: int = 256,
        crops_per_image: int = 1,
        degrade: str | None = None,
    ) -> None:
        super().__init__()
        if crop == "resize" and (resize_to is None or resize_to < img_size):
            raise ValueError(f"crop='resize' needs resize_to >= img_size ({img_size})")
        self.urls, self.img_size, self.batch_size = urls, img_size, batch_size
        self.batches_per_epoch, self.seed, self.epoch = batches_per_epoch, seed, 0
        self.crop, self.resize_to, self.max_pixels = crop, resize_to, max_pixels
        self.shuffle_buffer, self.crops_per_image = shuffle_buffer, crops_per_image
        self.degrade = degrade

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _decode_and_crop(self, src, skips: _Skips, rng: random.Random):
        failures = 0  # consecutive: an all-corrupt corpus must fail, not spin forever
        for sample in src:
            if failures >= MAX_CONSECUTIVE_FAILURES:
                raise ValueError(
                    f"shards: {failures} samples in a row have no decodable image "
                    f"(last from {sample.get('__url__', '?')})"
                )
            ext = next((e for e in IMAGE_EXTS if e in sample), None)
            if ext is None:
                skips.add("no_image")
                failures += 1
                continue
            try:
                img = decode_image(sample[ext], self.max_pixels)
            except ValueError:
                skips.add("corrupt")
                failures += 1
                continue
            failures = 0
            key = sample.get("__key__", "?")
            for i in range(self.crops_per_image):
                crop, resampled = random_crop(img, self.img_size, rng, self.crop, self.resize_to)
                name = key if self.crops_per_image == 1 else f"{key}#{i}"
                yield {"image": crop, "key": name, "resampled": resampled}

    @staticmethod
    def _collate(samples: list[dict[str, Any]], skips: _Skips, degrader, gen) -> dict[str, Any]:
        images = torch.stack([s["image"] for s in samples])
        batch = {
            "images": images,
            "keys": [s["key"] for s in samples],
            "skipped": skips.take(),  # skipped while this batch was being gathered
            "resampled": sum(s["resampled"] for s in samples),
        }
        if degrader is not None:
            batch["degraded"] = degrader(images.float().div_(255), generator=gen)[0].clamp_(0, 1)
        return batch

    def __iter__(self):
        register_fsspec(self.urls)  # again in the worker: a spawned one starts afresh
        rank, world, worker, workers = wds.utils.pytorch_worker_info()
        skips = _Skips()

        def count_and_continue(exn: Exception) -> bool:
            skips.add("corrupt_tar")
            return True

        rng = random.Random(wds.utils.make_seed(self.seed, self.epoch, rank, worker))
        degrader, gen = None, None
        if self.degrade:
            import degrade

            degrader = degrade.Degrader(self.degrade)
            gen = torch.Generator().manual_seed(
                wds.utils.make_seed(self.seed, self.epoch, rank, worker, 2)
            )
        share = self.batches_per_epoch // workers + (worker < self.batches_per_epoch % workers)
        shards = wds.ResampledShards(
            self.urls,
            seed=wds.utils.make_seed(self.seed, self.epoch),
            worker_seed=_constant_seed,
            deterministic=True,
        )
        pipeline = wds.DataPipeline(
            shards,
            wds.split_by_node,
            wds.split_by_worker,
            wds.tarfile_to_samples(handler=count_and_continue),
            lambda src: self._decode_and_crop(src, skips, rng),
            wds.shuffle(self.shuffle_buffer, initial=self.shuffle_buffer, rng=rng),
            wds.batched(
                self.batch_size,
                collation_fn=lambda samples: self._collate(samples, skips, degrader, gen),
                partial=False,
            ),
        ).with_epoch(share)
        yield from pipeline


def make_loader(stream: ShardStream, num_workers: int, pin_memory: bool = False) -> DataLoader:
    """DataLoader over already-batched ``stream`` (workers are re-created every epoch, so the
    epoch seed reaches them)."""
    return DataLoader(
        stream,
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        prefetch_factor=4 if num_workers > 0 else None,
        persistent_workers=False,
        # its own generator: creating an iterator must not consume the global RNG that
        # drop-path uses (a resumed run would drift by one draw)
        generator=torch.Generator(),
    )
