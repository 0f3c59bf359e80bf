"""CLIP plumbing with a tiny randomly initialised open_clip model saved to a local file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from curate.params import CurateParams
from curate.pipeline import curate

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 1, "width": 64, "patch_size": 16, "head_width": 32},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> tuple[Path, Path]:
    import open_clip
    import torch
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp("clip")
    config = root / "qpt-tiny-clip.json"
    config.write_text(json.dumps(TINY))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model("qpt-tiny-clip", pretrained=None)
    weights = root / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    return config, weights


@pytest.fixture(scope="module")
def folder(tmp_path_factory, photos) -> Path:
    root = tmp_path_factory.mktemp("clipimgs")
    for i, (name, im) in enumerate(list(photos.items())[:4]):
        Image.fromarray(im).save(root / f"{name}.png")
        if i == 0:  # same pixels, other encoding: an embedding duplicate
            Image.fromarray(im).save(root / f"{name}_copy.jpg", quality=95)
    return root


def _params(folder: Path, tiny_clip, **kw) -> CurateParams:
    config, weights = tiny_clip
    return CurateParams(
        source="folder", path=folder, clip_model="qpt-tiny-clip", clip_weights=str(weights),
        clip_config=config, richness=False, report=False, phash_radius=None,
        positive_prompts=["a photo", "a picture"], negative_prompts=["a drawing"], **kw,
    )  # fmt: skip


def test_scores_embeddings_and_embedding_dedup(folder, tiny_clip, tmp_path: Path) -> None:
    curate(_params(folder, tiny_clip, embedding_threshold=None), tmp_path / "a")
    rows = pq.read_table(tmp_path / "a/manifest.parquet").to_pylist()
    assert all(-1 <= r["clip_score"] <= 1 and r["clip_negative"] is not None for r in rows)
    emb = np.load(tmp_path / "a/parts/unit-00000.npy")
    assert emb.shape == (len(rows), TINY["embed_dim"])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # A random tower still maps a re-encoded copy closest to its original; a threshold
    # between that pair and the next-closest pair must flag exactly the copy.
    cos = np.triu(emb @ emb.T, k=1)
    top, second = np.sort(cos.ravel())[::-1][:2]
    assert top > second
    threshold = float((top + second) / 2)
    summary = curate(_params(folder, tiny_clip, embedding_threshold=threshold), tmp_path / "a2")
    rows = pq.read_table(tmp_path / "a2/manifest.parquet").to_pylist()
    assert summary.get("rejected.duplicate_embedding") == 1
    dup = next(r for r in rows if r["reason"] == "duplicate_embedding")
    assert Path(dup["uri"]).stem.replace("_copy", "") in dup["dup_of"]


def test_thresholds_reject_with_clip_reasons(folder, tiny_clip, tmp_path: Path) -> None:
    summary = curate(_params(folder, tiny_clip, min_clip_score=1.01), tmp_path / "b")
    assert summary["rejected.low_clip_score"] == summary["candidates"]
    summary = curate(_params(folder, tiny_clip, negative_margin=-2.0), tmp_path / "c")
    assert summary["rejected.negative_prompt"] == summary["candidates"]


def test_missing_weight_file_is_a_one_line_error(folder, tiny_clip, tmp_path: Path) -> None:
    params = _params(folder, tiny_clip).model_copy(update={"clip_weights": "/no/such.safetensors"})
    with pytest.raises(FileNotFoundError, match="clip_weights /no/such.safetensors: no such file"):
        curate(params, tmp_path / "d")


def test_named_tag_offline_fails_fast_with_how_to(monkeypatch) -> None:
    from curate.clip_score import ClipScorer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(ValueError, match="pass clip_weights=/path/to/weights") as err:
        ClipScorer("ViT-S-32", "laion2b_s34b_b79k_not_cached", ["a photo"], [])
    assert "\n" not in str(err.value)
    assert time.monotonic() - start < 30  # no network retries (generous: shared CPU)
