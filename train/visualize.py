"""Pictures of a pretraining run: reconstructions and the loss curve (PNG)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch import Tensor
from torchvision.utils import make_grid

from .models import patchify, unpatchify


def reconstruction_grid(
    clean: Tensor,
    degraded: Tensor,
    target: Tensor,
    pred: Tensor,
    mask: Tensor,
    patch_size: int,
    norm_pix: bool,
    path: Path,
    max_images: int = 6,
    target_norm: tuple[Tensor, Tensor] | None = None,
) -> Path:
    """Save a PNG: one column per image; rows clean, degraded input, masked input,
    reconstruction (visible patches pasted back), target.

    Args:
        clean, degraded, target: (B, 3, H, W) in [0, 1].
        pred: (B, N, p*p*3) model output; mask: (B, N), 1 = masked.
        target_norm: (mean, std), each (1, 3, 1, 1), when the model predicts the
            ``(target - mean) / std`` image (the authors' MAE); None = [0, 1] pixels.
    """
    n = min(max_images, clean.shape[0])
    clean, degraded, target = (t[:n].detach().float().cpu() for t in (clean, degraded, target))
    pred, mask = pred[:n].detach().float().cpu(), mask[:n].detach().float().cpu()
    grid = (target.shape[-2] // patch_size, target.shape[-1] // patch_size)
    if target_norm is not None:
        target_norm = (target_norm[0].detach().float().cpu(), target_norm[1].detach().float().cpu())
    recon = reconstruct(target, pred, mask, patch_size, norm_pix, target_norm).clamp(0, 1)
    m = mask.unsqueeze(-1)
    masked = unpatchify(patchify(degraded, patch_size) * (1 - m) + 0.5 * m, patch_size, grid)
    rows = torch.cat([clean, degraded, masked, recon, target])
    path.parent.mkdir(parents=True, exist_ok=True)
    grid_img = make_grid(rows, nrow=n, padding=2, pad_value=1.0)
    labels = ["clean", "degraded input", "masked input", "reconstruction", "target"]
    _labelled(grid_img, labels, clean.shape[-2] + 2).save(path)
    return path


def reconstruct(
    target: Tensor,
    pred: Tensor,
    mask: Tensor,
    patch_size: int,
    norm_pix: bool,
    target_norm: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """Predicted patches pasted into the target: (B, 3, H, W) in [0, 1] space (unclamped).

    Args:
        target: (B, 3, H, W) in [0, 1]; pred: (B, N, p*p*3); mask: (B, N), 1 = masked.
        norm_pix: ``pred`` is per-patch normalised; the target's patch statistics undo it.
        target_norm: (mean, std) when ``pred`` is of ``(target - mean) / std``.
    """
    grid = (target.shape[-2] // patch_size, target.shape[-1] // patch_size)
    mean, std = target_norm if target_norm is not None else (0.0, 1.0)
    tp = patchify((target - mean) / std, patch_size)
    if norm_pix:
        pred = pred * (tp.var(-1, keepdim=True) + 1e-6) ** 0.5 + tp.mean(-1, keepdim=True)
    m = mask.unsqueeze(-1)
    return unpatchify(tp * (1 - m) + pred * m, patch_size, grid) * std + mean


def _labelled(grid: Tensor, labels: list[str], row_height: int) -> Image.Image:
    """(3, H, W) float grid -> PIL image with a white margin naming each row."""
    arr = (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    body = Image.fromarray(arr)
    margin = 8 + 7 * max(len(t) for t in labels)
    out = Image.new("RGB", (body.width + margin, body.height), "white")
    out.paste(body, (margin, 0))
    draw = ImageDraw.Draw(out)
    for i, text in enumerate(labels):
        draw.text((4, i * row_height + row_height // 2 - 5), text, fill="black")
    return out


def read_metrics(path: Path) -> list[dict]:
    """Records of ``metrics.jsonl``; a line cut short by a crash is ignored."""
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def loss_curve(metrics_path: Path, png: Path) -> Path | None:
    """Plot loss (and lr) against step from ``metrics.jsonl``; None when there is no data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in read_metrics(metrics_path) if "loss" in r]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], label="loss")
    ax.set_xlabel("step")
    ax.set_ylabel("masked-patch loss")
    ax2 = ax.twinx()
    ax2.plot([r["step"] for r in rows], [r["lr"] for r in rows], color="tab:orange", alpha=0.6)
    ax2.set_ylabel("lr", color="tab:orange")
    ax.set_title("pretraining loss")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png
