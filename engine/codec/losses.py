"""Reconstruction losses: log-mel L1 and multi-resolution STFT loss.

Multi-resolution STFT loss (Yamamoto et al. 2020, Parallel WaveGAN): at each resolution,
spectral convergence ||S - S'||_F / ||S||_F plus L1 between log magnitudes.
"""

from __future__ import annotations

import torch
from torch import nn

RESOLUTIONS: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))


def stft_mag(x: torch.Tensor, n_fft: int, hop: int, window: torch.Tensor) -> torch.Tensor:
    """x (B, C, N) -> magnitude (B*C, F, T), floored for the log."""
    spec = torch.stft(
        x.reshape(-1, x.shape[-1]), n_fft, hop, window=window, center=True, return_complex=True
    )
    return spec.abs().clamp_min(1e-5)


class MultiResolutionSTFTLoss(nn.Module):
    def __init__(self, resolutions: tuple[tuple[int, int], ...] = RESOLUTIONS) -> None:
        super().__init__()
        self.resolutions = resolutions
        for n_fft, _ in resolutions:
            self.register_buffer(f"win{n_fft}", torch.hann_window(n_fft), persistent=False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """pred, target (B, C, N) -> {"sc": ..., "logmag": ...} averaged over resolutions."""
        sc = logmag = pred.new_zeros(())
        for n_fft, hop in self.resolutions:
            win = getattr(self, f"win{n_fft}")
            p, t = stft_mag(pred, n_fft, hop, win), stft_mag(target, n_fft, hop, win)
            sc = sc + torch.linalg.norm(p - t) / torch.linalg.norm(t).clamp_min(1e-5)
            logmag = logmag + (p.log() - t.log()).abs().mean()
        n = len(self.resolutions)
        return {"sc": sc / n, "logmag": logmag / n}


def mel_l1(pred_log_mel: torch.Tensor, target_log_mel: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of log-mel spectrograms (B, C*M, T)."""
    return (pred_log_mel - target_log_mel).abs().mean()
