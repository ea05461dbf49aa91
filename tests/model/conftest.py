"""Small random-weight DiTs: a few hundred thousand parameters, milliseconds per forward."""

from __future__ import annotations

import pytest
import torch

from engine.edm.precond import EDMPrecond
from engine.model.config import DiTConfig
from engine.model.dit import DiT

SMALL = DiTConfig(latent_channels=8, width=64, depth=3, heads=2, freq_dim=32)


def randomised(cfg: DiTConfig = SMALL, seed: int = 0) -> DiT:
    """A DiT whose zero-initialised (adaLN-Zero) weights are made non-zero, so every path counts."""
    torch.manual_seed(seed)
    net = DiT(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return net.eval()


@pytest.fixture(scope="session")
def small_dit() -> DiT:
    return randomised()


@pytest.fixture(scope="session")
def small_denoiser(small_dit: DiT) -> EDMPrecond:
    return EDMPrecond(small_dit, sigma_data=0.5).eval()


def inputs(cfg: DiTConfig = SMALL, batch: int = 2, frames: int = 11, seed: int = 0):
    """(x, c_noise, text_emb, budget, known, mask) with the first half of frames known."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cfg.latent_channels, frames, generator=g)
    c_noise = torch.randn(batch, generator=g)
    text = torch.randn(batch, cfg.text_dim, generator=g)
    budget = torch.rand(batch, generator=g)
    known = torch.randn(batch, cfg.latent_channels, frames, generator=g)
    mask = (torch.arange(frames) < frames // 2).float().expand(batch, 1, frames).clone()
    return x, c_noise, text, budget, known, mask
