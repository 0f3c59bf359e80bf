"""Multi-scale feature fusion (QPT V2): every encoder stage feeds the MAE decoder."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn


class MSFF(nn.Module):
    """Project the features of every stage to the decoder width and fuse them.

    With ``enabled=False`` this is MAE's ``decoder_embed`` (one linear layer on the last
    stage), so MSFF can be switched off without changing anything else.

    Args:
        stage_dims: per-unit feature size of each stage (``encoder.stage_dims``).
        out_dim: decoder width.
        enabled: fuse all stages (True) or use the last one only (False).
        fusion: ``"sum"`` of the projections, or ``"concat"`` followed by a linear layer.

    Shape:
        - input: list of (B, L, stage_dims[i])
        - output: (B, L, out_dim)
    """

    def __init__(
        self,
        stage_dims: list[int],
        out_dim: int,
        enabled: bool = True,
        fusion: Literal["sum", "concat"] = "sum",
    ) -> None:
        super().__init__()
        if fusion not in ("sum", "concat"):
            raise ValueError(f"MSFF fusion must be 'sum' or 'concat', got '{fusion}'")
        self.enabled, self.fusion = enabled, fusion
        dims = stage_dims if enabled else stage_dims[-1:]
        # the last stage is already normalised by the encoder; earlier ones are not
        self.proj = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(d), nn.Linear(d, out_dim))
            if i < len(dims) - 1
            else nn.Linear(d, out_dim)
            for i, d in enumerate(dims)
        )
        self.fuse = (
            nn.Linear(len(dims) * out_dim, out_dim) if enabled and fusion == "concat" else None
        )

    def forward(self, stages: list[Tensor]) -> Tensor:
        feats = stages if self.enabled else stages[-1:]
        if len(feats) != len(self.proj):
            raise ValueError(f"MSFF expects {len(self.proj)} stage features, got {len(feats)}")
        projected = [p(f) for p, f in zip(self.proj, feats, strict=True)]
        if self.fuse is not None:
            return self.fuse(torch.cat(projected, dim=-1))
        return torch.stack(projected).sum(dim=0)
