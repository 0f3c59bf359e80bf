"""Parameters of curation and sharding (the ``curate`` and ``shard`` tables of pipelines.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from qpt_base.images import MAX_PIXELS as DEFAULT_MAX_PIXELS


class CurateParams(BaseModel):
    """What ``qpt curate`` reads, how it filters and how it dedups.

    Every filter is optional (``None`` switches it off; ``none`` on the command line). Defaults
    follow the paper's preference for high-resolution data while keeping the built-in corpus's
    originals. Each field's description is its help on the command line;
    ``json_schema_extra={"cli": ...}`` names its flag where that is not the field name.

    Why the dedup defaults:

    * ``phash_radius = 10``: chosen from the precision/recall curve in ``docs/dedup.md``
      (117 real photos with made re-encodes, crops and resizes): the largest radius with no
      false pair there; re-encodes and resizes are caught at any radius from 4, most 2-6 %
      crops at 10. Larger crops need embedding dedup.
    * ``embedding_threshold = 0.95``: the usual near-copy level for CLIP ViT-B embeddings
      (SemDeDup-style dedup of LAION uses 0.95-0.98); not measurable here without real
      weights.

    LAION thresholds: a threshold whose column a metadata file lacks (LAION-400M has no
    ``punsafe`` or ``pwatermark``) is not applied to that file; the summary's ``warnings``
    say so. Column names are the LAION-5B release's by default; a name absent as written is
    matched in any case (``url`` for ``URL``).
    """

    model_config = ConfigDict(extra="forbid")

    source: Literal["builtin", "folder", "laion", "sa1b"] = Field(
        "builtin", description="builtin (no download), folder, sa1b or laion."
    )
    path: Path | None = Field(
        None,
        description="Input folder (folder), SA-1B tar or folder of tars (sa1b), img2dataset "
        "output folder (laion); unused by builtin.",
    )
    metadata: Path | None = Field(
        None, description="LAION parquet file or folder of parquet files (laion only)."
    )
    builtin_photos: list[str] | None = Field(
        None,
        description="Build the built-in corpus from these photos only (quick runs).",
        json_schema_extra={"cli": "--builtin-photo"},
    )
    extra_folders: list[Path] = Field(
        [],
        description="Another folder tree whose files join the candidates of any source; a "
        "missing one is skipped and counted as extra_folders_missing.",
        json_schema_extra={"cli": "--extra-folder"},
    )

    min_short_side: int = Field(256, ge=0, description="Reject below this short side (px).")
    min_pixels: int = Field(0, ge=0, description="Reject below this many pixels.")
    max_aspect: float | None = Field(3.0, gt=1.0, description="Reject above this aspect ratio.")
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        gt=0,
        le=2 * DEFAULT_MAX_PIXELS,
        description="Decompression-bomb cap (declared pixels); at most 178956970, above "
        "which PIL refuses to open any image.",
    )

    max_punsafe: float | None = Field(0.5, ge=0.0, le=1.0, description="LAION punsafe cap.")
    max_pwatermark: float | None = Field(0.8, ge=0.0, le=1.0, description="LAION pwatermark cap.")
    min_laion_similarity: float | None = Field(
        0.28, ge=-1.0, le=1.0, description="LAION image-text similarity floor."
    )
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

    richness: bool = Field(
        True, description="Measure objects per image (exact on SA-1B, estimated elsewhere)."
    )
    min_richness: float | None = Field(
        None, description="Reject below this many (estimated) objects."
    )
    richness_scale: float = Field(
        1.0, gt=0.0, description="Calibration of the estimate (see curate.richness)."
    )
    richness_method: Literal["edges", "felzenszwalb"] = Field(
        "edges",
        description="Estimator: edges (fast colour-edge count) or felzenszwalb (the slower "
        "reference segmentation it is fitted to).",
    )

    clip_model: str | None = Field(
        None, description="open_clip architecture (none: no CLIP filter)."
    )
    clip_weights: str | None = Field(
        None, description="CLIP weight file (.safetensors/.pt), or a named tag when online."
    )
    clip_config: Path | None = Field(None, description="JSON config of a custom architecture.")
    positive_prompts: list[str] = Field(
        ["a photo"], description="Positive CLIP prompt.", json_schema_extra={"cli": "--positive"}
    )
    negative_prompts: list[str] = Field(
        [], description="Negative CLIP prompt.", json_schema_extra={"cli": "--negative"}
    )
    min_clip_score: float | None = Field(
        None, description="Reject when the best positive-prompt cosine is below this."
    )
    negative_margin: float | None = Field(
        None,
        description="Reject when a negative prompt's cosine beats the best positive by more.",
    )

    dedup_exact: bool = Field(
        True,
        description="Drop byte-identical copies (sha256).",
        json_schema_extra={"cli": "--exact-dedup/--no-exact-dedup"},
    )
    phash_radius: int | None = Field(
        10, ge=0, le=32, description="Near-duplicate Hamming radius on 64-bit pHash."
    )
    embedding_threshold: float | None = Field(
        0.95, gt=0.0, le=1.0, description="Cosine above which CLIP embeddings are duplicates."
    )

    unit_size: int = Field(64, ge=1, description="Files per unit of work (folder/builtin).")
    workers: int = Field(0, ge=0, description="Worker processes (0: in this process).")
    executor: Literal["process", "ray"] = Field(
        "process", description="process (local pool) or ray."
    )
    address: str | None = Field(
        None, description="Ray cluster address (none: start a local Ray instance)."
    )

    report: bool = Field(True, description="Write report.png and rejections.png.")
    examples_per_reason: int = Field(
        6, ge=0, description="Thumbnails per rejection reason on the contact sheet."
    )

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
    """How ``qpt shard`` packs the kept rows into WebDataset tars."""

    model_config = ConfigDict(extra="forbid")

    manifest: Path | None = Field(
        None, description="Manifest to read (default: the earlier curate stage's)."
    )
    maxcount: int = Field(1000, ge=1, description="Samples per shard at most.")
    maxsize: int = Field(
        1 << 30,
        ge=1,
        description="Bytes per shard at most (a single larger sample gets a shard of its own).",
    )
    shuffle: bool = Field(False, description="Shuffle the kept rows (seeded) before packing.")
    max_side: int | None = Field(
        None, ge=16, description="Downscale above this long side (none: original bytes)."
    )
    resize_format: Literal["png", "jpeg"] = Field(
        "png", description="Encoding of resized images: png (lossless) or jpeg."
    )
    jpeg_quality: int = Field(
        95, ge=95, le=100, description="Quality of resized JPEGs (>= 95: no visible artefacts)."
    )
