"""Spectral transforms in torch (training side); same framing as ``spectral`` (numpy).

Causal framing: left-pad n_fft - hop zeros, no centering, so N samples give N / hop
frames. The inverse below mirrors ``spectral.istft`` so that what the codec is trained
through is exactly what serving runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.codec import spectral


class Spectral(torch.nn.Module):
    """Causal STFT, log-mel and inverse STFT with fixed buffers for one configuration."""

    def __init__(
        self,
        sample_rate: int,
        n_fft: int,
        hop: int,
        n_mels: int,
        f_min: float = 0.0,
        f_max: float | None = None,
        log_floor: float = 1e-5,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop, self.log_floor = n_fft, hop, log_floor
        fb = spectral.mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("window", torch.from_numpy(spectral.hann(n_fft)), persistent=False)
        self.register_buffer("mel_fb", torch.from_numpy(fb), persistent=False)  # (M, F)
        tail = torch.from_numpy(spectral.tail_envelope(n_fft, hop)).clamp_min(1e-3)
        self.register_buffer("tail_env", tail, persistent=False)
        self.env = spectral.window_envelope(n_fft, hop)

    def stft(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, C, N) -> complex (B, C, F, N // hop)."""
        b, c, n = audio.shape
        x = F.pad(audio.reshape(b * c, n), (self.n_fft - self.hop, 0))
        spec = torch.stft(
            x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True
        )  # (B*C, F, T)
        return spec.reshape(b, c, *spec.shape[-2:])

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, C, N) -> log-mel (B, C*n_mels, N // hop)."""
        mag = self.stft(audio).abs()  # (B, C, F, T)
        mel = torch.einsum("mf,bcft->bcmt", self.mel_fb, mag)  # (B, C, M, T)
        b, c, m, t = mel.shape
        return mel.clamp_min(self.log_floor).log().reshape(b, c * m, t)

    def istft(self, log_mag: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """(B, C, F, T) log-magnitude and phase -> audio (B, C, T * hop)."""
        b, c, _, t = log_mag.shape
        mag = log_mag.exp()
        spec = torch.complex(mag * torch.cos(phase), mag * torch.sin(phase))
        frames = torch.fft.irfft(spec.transpose(-1, -2), n=self.n_fft, dim=-1)  # (B,C,T,n_fft)
        frames = frames * self.window
        # Overlap-add with fold: (B*C, n_fft, T) -> (B*C, 1, 1, (T-1)*hop + n_fft)
        cols = frames.reshape(b * c, t, self.n_fft).transpose(1, 2)
        length = (t - 1) * self.hop + self.n_fft
        out = F.fold(cols, (1, length), (1, self.n_fft), stride=(1, self.hop))
        out = out.reshape(b, c, length)
        pad = self.n_fft - self.hop
        body = out[..., pad : t * self.hop] / self.env
        tail = out[..., t * self.hop :] / self.tail_env
        return torch.cat([body, tail], dim=-1)  # (B, C, T * hop)
