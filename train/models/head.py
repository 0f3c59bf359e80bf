"""The scoring head used by ``bench``: LN -> mean-pool -> MLP -> 1 (as in the QPT V2 weights)."""

from __future__ import annotations

from torch import Tensor, nn


class ScoreHead(nn.Module):
    """Quality / aesthetics score from encoder tokens.

    Args:
        dim: token width D (``encoder.num_features``).
        hidden: MLP width (64 in the released QPT V2 heads).
        dropout: dropout before the MLP.

    Shape:
        - input: (B, N, D) tokens (LN, then mean over N), or (B, D) pooled features (LN)
        - output: (B,) scores

    Example:
        >>> import torch
        >>> ScoreHead(384)(torch.rand(2, 196, 384)).shape
        torch.Size([2])
    """

    def __init__(self, dim: int, hidden: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() not in (2, 3):
            raise ValueError(f"ScoreHead expects (B, N, D) or (B, D), got {tuple(x.shape)}")
        x = self.norm(x)
        if x.dim() == 3:
            x = x.mean(dim=1)
        return self.mlp(self.drop(x)).squeeze(-1)
