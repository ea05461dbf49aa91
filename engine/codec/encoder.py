"""Codec encoder: log-mel frames -> latent frames at 1/downsample of the frame rate.

Non-causal (it runs offline to cache latents for the diffusion model). Two stride-2
patchifying convolutions give the 4x downsampling.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.codec.blocks import ConvNeXtBlock
from engine.codec.config import CodecConfig

# log-mel values lie roughly in [log(1e-5), 5] = [-11.5, 5]; centre and scale them.
MEL_SHIFT, MEL_SCALE = 5.0, 4.0


class Encoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        if cfg.downsample != 4:
            raise ValueError("the encoder implements downsample = 4 (two stride-2 stages)")
        w, c_in = cfg.enc_width, cfg.channels * cfg.n_mels
        self.cfg = cfg
        self.stem = nn.Conv1d(c_in, w, 7, padding=3)
        self.stages = nn.ModuleList()
        for i, n in enumerate(cfg.enc_blocks):
            layers: list[nn.Module] = []
            if i > 0:
                layers.append(nn.Conv1d(w, w, 2, stride=2))  # patchify: T -> T/2
            layers += [ConvNeXtBlock(w, 4, 7, causal=False) for _ in range(n)]
            self.stages.append(nn.Sequential(*layers))
        self.norm = nn.LayerNorm(w, eps=1e-6)
        self.proj = nn.Linear(w, cfg.latent_dim)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """log_mel (B, C*n_mels, T) with T % 4 == 0 -> latent (B, latent_dim, T/4)."""
        x = self.stem((log_mel + MEL_SHIFT) / MEL_SCALE)  # (B, W, T)
        for stage in self.stages:
            x = stage(x)  # (B, W, T) then (B, W, T/2) then (B, W, T/4)
        return self.proj(self.norm(x.transpose(1, 2))).transpose(1, 2)  # (B, D, T/4)
