"""Classification heads: global spatio-temporal average pooling, dropout, linear layer."""

from __future__ import annotations

import torch
from torch import nn


class ClassifierHead(nn.Module):
    """Mean over (T, H, W), dropout, then one linear layer.

    Equal to the IBM code's per-frame FC followed by a mean over frames (the FC is linear),
    but applies the FC once per clip.
    """

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(x.mean(dim=(2, 3, 4))))
