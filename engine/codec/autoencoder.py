"""The codec: encoder + decoder + the spectral front/back ends, with the training loss."""

from __future__ import annotations

import torch
from torch import nn

from engine.codec.config import CodecConfig, TrainConfig
from engine.codec.decoder import Decoder
from engine.codec.encoder import Encoder
from engine.codec.losses import MultiResolutionSTFTLoss, mel_l1
from engine.codec.spectral_torch import Spectral


class Autoencoder(nn.Module):
    def __init__(self, cfg: CodecConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.spectral = Spectral(
            cfg.sample_rate, cfg.n_fft, cfg.hop, cfg.n_mels, cfg.f_min, cfg.f_max, cfg.log_floor
        )
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.mrstft = MultiResolutionSTFTLoss()

    def check_audio(self, audio: torch.Tensor) -> None:
        c, n = self.cfg.channels, self.cfg.samples_per_latent
        if audio.ndim != 3 or audio.shape[1] != c or audio.shape[2] % n:
            raise ValueError(
                f"expected audio of shape (batch, {c}, samples) with samples a multiple of "
                f"{n}, got {tuple(audio.shape)}"
            )

    def encode(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (B, C, N) -> latent (B, D, N / 2048)."""
        self.check_audio(audio)
        return self.encoder(self.spectral.log_mel(audio))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """latent (B, D, L) -> audio (B, C, L * 2048)."""
        return self.spectral.istft(*self.decoder(latent))

    def loss(
        self, audio: torch.Tensor, tcfg: TrainConfig
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training loss for a batch of segments (B, C, N); returns (total, parts), the
        parts as detached scalar tensors."""
        self.check_audio(audio)
        target_mel = self.spectral.log_mel(audio)  # (B, C*M, T)
        latent = self.encoder(target_mel)  # (B, D, L)
        noisy = latent
        if tcfg.latent_noise:
            noisy = latent + tcfg.latent_noise * torch.randn_like(latent)
        recon = self.decode(noisy)  # (B, C, N)
        # The last n_fft - hop samples are completed only by later frames (which a segment
        # lacks), so they are left out of the reconstruction losses.
        keep = audio.shape[-1] - (self.cfg.n_fft - self.cfg.hop)
        pred, target = recon[..., :keep], audio[..., :keep]
        # Causal framing: the log-mel of audio[..., :keep] is the first keep / hop frames.
        n_frames = keep // self.cfg.hop
        mel = mel_l1(self.spectral.log_mel(pred), target_mel[..., :n_frames])
        mr = self.mrstft(pred, target)
        reg = latent.pow(2).mean()
        total = (
            tcfg.mel_weight * mel
            + tcfg.stft_weight * (mr["sc"] + mr["logmag"])
            + tcfg.latent_l2 * reg
        )
        parts = {  # detached tensors: reading them (float()) waits for the device
            "loss": total.detach(),
            "mel_l1": mel.detach(),
            "stft_sc": mr["sc"].detach(),
            "stft_logmag": mr["logmag"].detach(),
            "latent_rms": reg.detach().sqrt(),
        }
        return total, parts
