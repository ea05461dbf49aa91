"""EDM preconditioning (Karras et al. 2022, "Elucidating the Design Space...", table 1).

D(x, sigma) = c_skip(sigma) * x + c_out(sigma) * F(c_in(sigma) * x, c_noise(sigma), ...)

so that the network F sees unit-variance inputs and predicts a unit-variance
target at every noise level. sigma_data is the standard deviation of the
(normalised) latents; it comes from the codec's latent statistics.
"""

from __future__ import annotations

import torch
from torch import nn


def edm_coefficients(
    sigma: torch.Tensor, sigma_data: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(c_skip, c_out, c_in, c_noise), each the shape of sigma."""
    sd2 = sigma_data**2
    s2 = sigma**2
    c_skip = sd2 / (s2 + sd2)
    c_out = sigma * sigma_data / (s2 + sd2).sqrt()
    c_in = 1.0 / (s2 + sd2).sqrt()
    c_noise = sigma.log() / 4.0
    return c_skip, c_out, c_in, c_noise


class EDMPrecond(nn.Module):
    """Wraps a network F(x, c_noise, **cond) -> (B, C, T) into the denoiser D(x, sigma, **cond).

    Conditioning keyword arguments (text embedding, budget, known frames, mask,
    n_blocks, ...) pass through to F untouched: the known frames are clean data
    and are not scaled by c_in.
    """

    def __init__(self, net: nn.Module, sigma_data: float = 0.5) -> None:
        super().__init__()
        self.net = net
        self.sigma_data = float(sigma_data)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, **cond: object) -> torch.Tensor:
        """x: (B, C, T) noisy latents; sigma: (B,) noise levels. Returns x0 estimate (B, C, T)."""
        sigma = sigma.to(x.dtype).reshape(-1)  # (B,)
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.sigma_data)  # each (B,)
        f = self.net(x * c_in[:, None, None], c_noise, **cond)  # (B, C, T)
        return x * c_skip[:, None, None] + f * c_out[:, None, None]  # (B, C, T)
