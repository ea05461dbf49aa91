"""The yardstick's audio classifier: a small CNN over log-mel crops with three heads (torch).

    net = AttributeNet(ClassifierConfig(n_family=12))
    feats, family, tempo, mode = net(x)        # x (B, 1, 64, T) -> (B, 64), (B, 12), (B, 3), (B, 2)

Trunk: four 3x3 conv blocks (batch norm, ReLU, max-pool halving frequency each time
and time twice: 64 x T -> 4 x T/4), the remaining frequency rows stacked into
channels, then dilated 1-D convolutions over time (dilation 1, 2, 4, residual: a
receptive field of about 3 s, several beats at any tempo, which the tempo head
needs) and mean + max pooling over time. A linear layer with ReLU gives the
`features` (the penultimate activations, used for the Frechet distance); one linear
head per attribute reads them. The network is fully convolutional, so it takes any
crop length; training uses 5 s crops.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    n_family: int  # family classes (engine.bench.quality.attributes)
    n_tempo: int = 3  # slow / medium / fast
    n_mode: int = 2  # major / minor
    n_mels: int = 64  # input bands; must be divisible by 16
    channels: tuple[int, ...] = (16, 32, 64, 96)  # conv blocks (each halves frequency)
    time_pool: tuple[int, ...] = (2, 2, 1, 1)  # time halving per block (x4 in all)
    width: int = 128  # channels of the temporal convolutions
    dilations: tuple[int, ...] = (1, 2, 4)
    features: int = 64  # penultimate size: the embedding for Frechet distances
    dropout: float = 0.2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        d = dict(d)
        for key in ("channels", "time_pool", "dilations"):
            if key in d:
                d[key] = tuple(d[key])
        return cls(**d)


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, time_pool: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.pool = nn.MaxPool2d((2, time_pool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(F.relu(self.norm(self.conv(x))))  # (B, C, M/2, T/p)


class TemporalBlock(nn.Module):
    """Residual dilated 1-D convolution over time."""

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation, bias=False)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.relu(self.norm(self.conv(x)))  # (B, W, T')


class AttributeNet(nn.Module):
    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        if cfg.n_mels % 2 ** len(cfg.channels):
            raise ValueError(f"n_mels {cfg.n_mels} must be divisible by {2 ** len(cfg.channels)}")
        self.cfg = cfg
        chans = (1, *cfg.channels)
        self.blocks = nn.Sequential(*[ConvBlock(a, b, p) for a, b, p in
                                      zip(chans[:-1], chans[1:], cfg.time_pool, strict=True)])
        rows = cfg.n_mels // 2 ** len(cfg.channels)
        self.mix = nn.Conv1d(cfg.channels[-1] * rows, cfg.width, 1)
        self.temporal = nn.Sequential(*[TemporalBlock(cfg.width, d) for d in cfg.dilations])
        self.embed = nn.Linear(2 * cfg.width, cfg.features)
        self.drop = nn.Dropout(cfg.dropout)
        self.family = nn.Linear(cfg.features, cfg.n_family)
        self.tempo = nn.Linear(cfg.features, cfg.n_tempo)
        self.mode = nn.Linear(cfg.features, cfg.n_mode)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, M, T) normalised log-mel -> (B, features) penultimate activations."""
        h = self.blocks(x)  # (B, C, M/16, T/4)
        b, c, m, t = h.shape
        h = F.relu(self.mix(h.reshape(b, c * m, t)))  # (B, W, T/4)
        h = self.temporal(h)  # (B, W, T/4)
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)  # (B, 2W)
        return F.relu(self.embed(pooled))  # (B, F)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (B, 1, M, T) -> features (B, F), family (B, n_family), tempo (B, 3), mode (B, 2)
        logits."""
        f = self.features(x)
        d = self.drop(f)
        return f, self.family(d), self.tempo(d), self.mode(d)
