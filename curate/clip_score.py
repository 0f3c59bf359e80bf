"""CLIP semantics with open_clip: image embeddings and prompt similarities.

Weights come from a local file (``.safetensors``/``.pt``/``.bin``) or, when online, a named
open_clip tag (``laion2b_s34b_b79k``, ...). Offline (``HF_HUB_OFFLINE=1``) a named tag fails
at once; that failure becomes a one-line ``ValueError`` saying how to give a local file.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


def _looks_like_path(weights: str) -> bool:
    return weights.endswith(_WEIGHT_SUFFIXES) or os.sep in weights or weights.startswith(".")


class ClipScorer:
    """An open_clip model with its prompts encoded once.

    Args:
        model: open_clip architecture name (``ViT-B-32``, or one from ``config``).
        weights: local weight file, or a named tag.
        positive: prompts of what to keep.
        negative: prompts of what to drop (may be empty).
        config: JSON model config registering a custom architecture named by its file stem.

    Raises:
        FileNotFoundError: a weight or config path that does not exist.
        ValueError: unknown architecture, or a named tag that cannot be fetched.
    """

    def __init__(
        self,
        model: str,
        weights: str,
        positive: list[str],
        negative: list[str],
        config: str | None = None,
    ) -> None:
        import open_clip
        import torch

        if config is not None:
            if not Path(config).is_file():
                raise FileNotFoundError(f"clip_config {config}: no such file")
            open_clip.add_model_config(Path(config))
        if model not in open_clip.list_models():
            raise ValueError(f"clip_model '{model}': unknown open_clip architecture")
        if _looks_like_path(weights) and not Path(weights).is_file():
            raise FileNotFoundError(f"clip_weights {weights}: no such file")
        try:
            net, _, preprocess = open_clip.create_model_and_transforms(
                model,
                pretrained=str(Path(weights).resolve()) if _looks_like_path(weights) else weights,
            )
        except (RuntimeError, OSError, ValueError) as exc:
            if _looks_like_path(weights):
                raise ValueError(f"clip_weights {weights}: cannot load ({exc})") from exc
            offline = " (HF_HUB_OFFLINE is set)" if os.environ.get("HF_HUB_OFFLINE") else ""
            raise ValueError(
                f"clip_weights '{weights}': cannot fetch open_clip weights for {model}{offline}; "
                "download them where you are online and pass clip_weights=/path/to/weights"
                ".safetensors"
            ) from exc
        self._torch = torch
        self.net = net.eval()
        self.preprocess = preprocess
        tokenizer = open_clip.get_tokenizer(model)
        with torch.no_grad():
            self.positive = self._encode_text(tokenizer, positive)
            self.negative = self._encode_text(tokenizer, negative) if negative else None

    def _encode_text(self, tokenizer, prompts: list[str]) -> np.ndarray:
        feats = self.net.encode_text(tokenizer(prompts))
        return _normalise(feats.float().numpy())

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        """Unit-norm image embeddings.

        Args:
            images: ``B`` arrays ``(H, W, 3)`` uint8.

        Returns:
            ``(B, D)`` float32.
        """
        from PIL import Image

        if not images:
            return np.zeros((0, self.positive.shape[1]), np.float32)
        batch = self._torch.stack([self.preprocess(Image.fromarray(im)) for im in images])
        with self._torch.no_grad():
            return _normalise(self.net.encode_image(batch).float().numpy())

    def scores(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best cosine to the positive and to the negative prompts.

        Args:
            embeddings: ``(B, D)`` unit-norm.

        Returns:
            ``(B,)`` best positive cosine, ``(B,)`` best negative cosine (``-inf`` when there
            are no negative prompts).
        """
        pos = (embeddings @ self.positive.T).max(axis=1)
        if self.negative is None:
            return pos, np.full(len(embeddings), -np.inf, np.float32)
        return pos, (embeddings @ self.negative.T).max(axis=1)


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def cached_scorer(
    model: str,
    weights: str,
    positive: tuple[str, ...],
    negative: tuple[str, ...],
    config: str | None,
) -> ClipScorer:
    """One :class:`ClipScorer` per worker process and configuration."""
    return ClipScorer(model, weights, list(positive), list(negative), config)
