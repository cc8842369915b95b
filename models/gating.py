"""Spatio-temporal feature gating of S3D-G (Xie et al. 2018, Sec. 4.6)."""

from __future__ import annotations

import torch
from torch import nn


class FeatureGating(nn.Module):
    """Y = sigmoid(W pool(X) + b) * X, pool = mean over (T, H, W); keeps the input shape.

    The paper's equation has a bias b; the TF reference (``s3dg.py`` ``self_gating``) drops it.
    """

    def __init__(self, channels: int, bias: bool = True) -> None:
        super().__init__()
        self.fc = nn.Conv3d(channels, channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != self.fc.in_channels:
            raise ValueError(
                f"x: got shape {tuple(x.shape)}; allowed: (B, {self.fc.in_channels}, T, H, W)"
            )
        weights = torch.sigmoid(self.fc(x.mean(dim=(2, 3, 4), keepdim=True)))
        return x * weights
