"""Stable reason codes of the manifest's ``reason`` column (``""`` for kept rows).

Codes are part of the data contract: never rename one, only add. Ordered by the step of the
pipeline that assigns them (source, metadata, header, decode, content, dedup).
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # source
    "unreadable": "the file or tar member could not be read (I/O error, broken tar member)",
    "unreadable_dir": "a directory that could not be listed (its files are not candidates)",
    "special_file": "a FIFO, socket, device or link to a directory: rejected unopened",
    "not_fetched": "LAION metadata row whose image img2dataset did not fetch",
    "no_metadata": "img2dataset sample whose URL is not in the LAION metadata",
    "bad_annotation": "SA-1B image whose annotation JSON is missing or invalid",
    # LAION metadata, before any image is opened
    "unsafe": "LAION punsafe above max_punsafe",
    "watermark": "LAION pwatermark above max_pwatermark",
    "low_similarity": "LAION precomputed CLIP similarity below min_laion_similarity",
    # header
    "empty": "zero-byte file",
    "not_image": "not an image format PIL can identify",
    "decompression_bomb": "declared pixel count above max_pixels",
    "animated": "animated image (several frames)",
    "too_small": "short side below min_short_side or pixel count below min_pixels",
    "bad_aspect": "long/short side ratio above max_aspect",
    # decode
    "corrupt": "truncated or undecodable image data",
    # content
    "low_richness": "estimated or annotated objects per image below min_richness",
    "low_clip_score": "CLIP similarity to the positive prompts below min_clip_score",
    "negative_prompt": "CLIP similarity to a negative prompt beats the positive prompts",
    # dedup (the kept member of a group is the largest, then the first)
    "duplicate_exact": "same bytes (sha256) as the kept row dup_of",
    "duplicate_near": "perceptual hash within phash_radius of the kept row dup_of",
    "duplicate_embedding": "embedding cosine above embedding_threshold with the kept row dup_of",
}
