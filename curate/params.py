"""Parameters of curation and sharding (the ``curate`` and ``shard`` tables of pipelines.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qpt_base.images import MAX_PIXELS as DEFAULT_MAX_PIXELS


class CurateParams(BaseModel):
    """What ``qpt curate`` reads, how it filters and how it dedups.

    Every filter is optional (``None`` or ``0`` switches it off). Defaults follow the paper's
    preference for high-resolution data while keeping the built-in corpus's originals.

    Attributes:
        source: ``builtin`` (no download), ``folder``, ``laion`` or ``sa1b``.
        path: folder (``folder``), SA-1B tar or folder of tars (``sa1b``), img2dataset output
            folder (``laion``). Unused by ``builtin``.
        metadata: LAION parquet file or folder of parquet files (``laion`` only).
        builtin_photos: build the built-in corpus from these photos only (quick runs).
        min_short_side: reject when the short side (header) is below this.
        min_pixels: reject when width*height (header) is below this.
        max_aspect: reject when long/short side is above this.
        max_pixels: decompression-bomb cap (declared pixels).
        max_punsafe / max_pwatermark / min_laion_similarity: LAION metadata thresholds. A
            threshold whose column a metadata file lacks (LAION-400M has no ``punsafe`` or
            ``pwatermark``) is not applied to that file; the summary's ``warnings`` say so.
        url_col / caption_col / width_col / height_col / similarity_col / punsafe_col /
            pwatermark_col / aesthetic_col: LAION metadata column names (the LAION-5B
            release's by default); a name absent as written is matched in any case
            (``url`` for ``URL``).
        richness: measure objects per image (exact on SA-1B, estimated elsewhere).
        min_richness: reject below this many (estimated) objects.
        richness_scale: calibration factor of the estimate (see ``curate.richness``).
        clip_model / clip_weights / clip_config: open_clip architecture name, weights (a local
            file, or a named tag when online) and an optional JSON config for custom
            architectures. ``clip_model=None`` switches CLIP off.
        positive_prompts / negative_prompts: text prompts for the CLIP filter.
        min_clip_score: reject when the best positive-prompt cosine is below this.
        negative_margin: reject when a negative prompt's cosine exceeds the best positive
            one by more than this (``None``: off).
        dedup_exact: drop byte-identical copies (sha256).
        phash_radius: Hamming radius of near duplicates on 64-bit pHash (``None``: off).
            Default 8: on the 117 real photos of ``../shared/data`` re-encodes (JPEG q40-95),
            half-size resizes and colour shifts all land within 4 bits and distinct photos
            are 16+ bits apart (precision 1.0); 8 also catches 72 % of 5-10 % crops (10:
            83 %) and is the largest radius whose exact 1M-hash dedup stays under a minute
            on 2 cores (see ``curate.dedup``). Larger crops need embedding dedup.
        embedding_threshold: cosine above which CLIP embeddings are duplicates (``None``: off).
            0.95: the usual near-copy level for CLIP ViT-B embeddings (SemDeDup-style
            dedup of LAION uses 0.95-0.98); not measurable here without real weights.
        unit_size: files per unit of work (``folder``/``builtin``).
        workers: processes for the map (``0``: in this process).
        executor: ``process`` (local pool) or ``ray``.
        address: Ray cluster address (``None``: start a local Ray instance).
        extra_folders: more directory trees whose files join the candidates of any source
            (as ``folder`` rows); a folder that does not exist is skipped and counted in the
            summary as ``extra_folders_missing`` (e.g. ``../shared/data/photos`` on a clone
            without shared data).
        report: write ``report.png`` and ``rejections.png``.
        examples_per_reason: thumbnails per rejection reason on the contact sheet.
    """

    model_config = ConfigDict(extra="forbid")

    source: Literal["builtin", "folder", "laion", "sa1b"] = "builtin"
    path: Path | None = None
    metadata: Path | None = None
    builtin_photos: list[str] | None = None
    extra_folders: list[Path] = []

    min_short_side: int = Field(256, ge=0)
    min_pixels: int = Field(0, ge=0)
    max_aspect: float | None = Field(3.0, gt=1.0)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, gt=0)

    max_punsafe: float | None = 0.5
    max_pwatermark: float | None = 0.8
    min_laion_similarity: float | None = 0.28
    url_col: str = Field("URL", description="LAION metadata column holding the image URL.")
    caption_col: str = Field("TEXT", description="LAION metadata column holding the caption.")
    width_col: str = Field("WIDTH", description="LAION metadata column of the declared width.")
    height_col: str = Field("HEIGHT", description="LAION metadata column of the declared height.")
    similarity_col: str = Field(
        "similarity", description="LAION metadata column of the CLIP image-text similarity."
    )
    punsafe_col: str = Field("punsafe", description="LAION metadata column of P(unsafe).")
    pwatermark_col: str = Field("pwatermark", description="LAION metadata column of P(watermark).")
    aesthetic_col: str = Field(
        "AESTHETIC_SCORE", description="LAION metadata column of the aesthetic score."
    )

    richness: bool = True
    min_richness: float | None = None
    richness_scale: float = Field(1.0, gt=0.0)

    clip_model: str | None = None
    clip_weights: str | None = None
    clip_config: Path | None = None
    positive_prompts: list[str] = ["a photo"]
    negative_prompts: list[str] = []
    min_clip_score: float | None = None
    negative_margin: float | None = None

    dedup_exact: bool = True
    phash_radius: int | None = Field(8, ge=0, le=32)
    embedding_threshold: float | None = Field(0.95, gt=0.0, le=1.0)

    unit_size: int = Field(64, ge=1)
    workers: int = Field(0, ge=0)
    executor: Literal["process", "ray"] = "process"
    address: str | None = None

    report: bool = True
    examples_per_reason: int = Field(6, ge=0)

    @model_validator(mode="after")
    def _check_source(self) -> CurateParams:
        if self.source in ("folder", "sa1b", "laion") and self.path is None:
            raise ValueError(f"curate: source '{self.source}' needs 'path'")
        if self.source == "laion" and self.metadata is None:
            raise ValueError("curate: source 'laion' needs 'metadata' (LAION parquet file/folder)")
        if self.clip_model is not None and self.clip_weights is None:
            raise ValueError(
                "curate: clip_model needs clip_weights (a local .safetensors/.pt file, "
                "or a named open_clip tag when online)"
            )
        return self


class ShardParams(BaseModel):
    """How ``qpt shard`` packs the kept rows into WebDataset tars.

    Attributes:
        manifest: manifest to read (``None``: the earlier ``curate`` stage's).
        maxcount: samples per shard at most.
        maxsize: bytes per shard at most (a single larger sample gets a shard of its own).
        shuffle: shuffle the kept rows (seeded by the run's seed) before packing.
        max_side: downscale images whose long side exceeds this (``None``: original bytes).
        resize_format: encoding of resized images: ``png`` (lossless) or ``jpeg``.
        jpeg_quality: quality of resized JPEGs (>= 95, to add no visible artefacts).
    """

    model_config = ConfigDict(extra="forbid")

    manifest: Path | None = None
    maxcount: int = Field(1000, ge=1)
    maxsize: int = Field(1 << 30, ge=1)
    shuffle: bool = False
    max_side: int | None = Field(None, ge=16)
    resize_format: Literal["png", "jpeg"] = "png"
    jpeg_quality: int = Field(95, ge=95, le=100)
