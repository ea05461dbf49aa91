"""ConvNeXt block (Liu et al. 2022, as adapted for audio by Vocos, Siuzdak 2023).

Depthwise conv over time -> LayerNorm -> pointwise expand -> GELU -> pointwise project,
with a learned per-channel residual scale. ``causal=True`` pads only on the left so an
output frame never depends on later frames (needed for chunked decoding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, mult: int, kernel: int, causal: bool, scale: float = 0.1):
        super().__init__()
        self.kernel, self.causal = kernel, causal
        # A (1, kernel) Conv2d: torch's CPU depthwise Conv1d is ~10x slower to train.
        self.dwconv = nn.Conv2d(dim, dim, (1, kernel), groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, mult * dim)
        self.pw2 = nn.Linear(mult * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D, T) -> (B, D, T)."""
        k = self.kernel - 1
        pad = (k, 0) if self.causal else (k // 2, k - k // 2)
        h = self.dwconv(F.pad(x, pad)[:, :, None]).squeeze(2)  # (B, D, T)
        h = self.norm(h.transpose(1, 2))  # (B, T, D)
        h = self.pw2(F.gelu(self.pw1(h)))  # (B, T, D)
        return x + (self.gamma * h).transpose(1, 2)  # (B, D, T)
