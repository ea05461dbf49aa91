"""Codec decoder: latent frames -> STFT log-magnitude and phase (Vocos-style iSTFT head).

Causal throughout (left-padded convolutions, per-frame norms), so STFT frame t depends
only on latent frames up to t // downsample and a bounded look-back
(``CodecConfig.decoder_receptive_latent_frames``). Decoding a chunk with at least that
many look-back frames therefore reproduces the whole-clip decoding of the chunk.

The inverse STFT is not in this graph: serving runs it in numpy (``spectral.istft``)
so the exported ONNX graph stays a plain conv net.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.codec.blocks import ConvNeXtBlock
from engine.codec.config import CodecConfig


class Decoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = cfg.dec_width
        self.stem = nn.Conv1d(cfg.latent_dim, w, 3)  # causal: left pad 2 in forward
        self.upsample = nn.Linear(w, w * cfg.downsample)  # one latent frame -> 4 STFT frames
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(w, cfg.dec_mult, cfg.dec_kernel, causal=True)
            for _ in range(cfg.dec_blocks)
        )
        self.norm = nn.LayerNorm(w, eps=1e-6)
        self.mag_head = nn.Linear(w, cfg.channels * cfg.n_freq)
        self.phase_head = nn.Linear(w, cfg.channels * cfg.n_freq)
        with torch.no_grad():
            self.mag_head.bias.fill_(-5.0)  # start quiet

    def spectra(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """latent (B, D, L) -> log_mag, phase, each (B, C, L * downsample, n_fft/2+1).

        Frame-major layout: serving's numpy irfft then runs over a contiguous last axis.
        """
        cfg = self.cfg
        b, _, n_lat = latent.shape
        x = self.stem(F.pad(latent, (2, 0)))  # (B, W, L)
        x = self.upsample(x.transpose(1, 2))  # (B, L, W*4)
        x = x.reshape(b, n_lat * cfg.downsample, cfg.dec_width).transpose(1, 2)  # (B, W, 4L)
        for block in self.blocks:
            x = block(x)  # (B, W, 4L)
        h = self.norm(x.transpose(1, 2))  # (B, 4L, W)
        shape = (b, -1, cfg.channels, cfg.n_freq)
        log_mag = self.mag_head(h).reshape(shape).transpose(1, 2)  # (B, C, 4L, F)
        phase = self.phase_head(h).reshape(shape).transpose(1, 2)  # (B, C, 4L, F), an angle
        return log_mag.clamp(max=cfg.max_log_mag), phase

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """latent (B, D, L) -> log_mag, phase, each (B, C, n_fft/2+1, L * downsample)."""
        log_mag, phase = self.spectra(latent)
        return log_mag.transpose(-1, -2), phase.transpose(-1, -2)


class DecoderForExport(nn.Module):
    """The exported graph: latent -> real and imaginary STFT frames (B, C, 4L, F).

    exp/cos/sin run inside onnxruntime (threaded, float32) rather than in numpy.
    """

    def __init__(self, decoder: Decoder) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_mag, phase = self.decoder.spectra(latent)  # (B, C, 4L, F) each
        mag = log_mag.exp()
        return mag * torch.cos(phase), mag * torch.sin(phase)
