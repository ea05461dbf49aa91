"""Codec configuration: typed, frozen presets with no framework import.

The codec maps audio to a compact latent for the diffusion model and back:

    audio (B, C, N) --log-mel--> (B, C*n_mels, N/hop) --encoder--> latent (B, D, N/(hop*down))
    latent --decoder--> log-magnitude, phase (B, C, n_fft/2+1, N/hop) --iSTFT--> audio (B, C, N)

N is a multiple of ``hop * downsample`` (2048 samples = one latent frame).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class CodecConfig:
    # --- signal ---
    sample_rate: int = 44100  # Hz
    channels: int = 1  # audio channels (mono now, stereo later): never hard-code 1
    n_fft: int = 2048  # STFT size for the mel input and the decoder's iSTFT head
    hop: int = 512  # STFT hop (samples); 44100 / 512 = 86.13 frames/s
    n_mels: int = 128  # mel bands per audio channel (Slaney scale, as librosa's default)
    f_min: float = 0.0
    f_max: float = 22050.0
    log_floor: float = 1e-5  # log-mel = log(max(mel magnitude, log_floor))
    # --- latent ---
    latent_dim: int = 32  # latent channels
    downsample: int = 4  # STFT frames per latent frame (2 stride-2 stages)
    # --- encoder (non-causal, runs offline) ---
    enc_width: int = 128
    enc_blocks: tuple[int, int, int] = (1, 1, 2)  # ConvNeXt blocks at 1x, 1/2x, 1/4x frame rate
    # --- decoder (causal so that chunked decoding equals whole-clip decoding) ---
    dec_width: int = 192
    dec_blocks: int = 5
    dec_mult: int = 3  # ConvNeXt inverted-bottleneck expansion
    dec_kernel: int = 7  # depthwise kernel (frames of look-back per block: kernel - 1)
    max_log_mag: float = 7.0  # clamp on the predicted log-magnitude (exp(7) ~ 1100)

    @property
    def n_freq(self) -> int:
        """STFT bins: n_fft / 2 + 1."""
        return self.n_fft // 2 + 1

    @property
    def samples_per_latent(self) -> int:
        """Audio samples per latent frame (hop * downsample = 2048)."""
        return self.hop * self.downsample

    @property
    def latent_rate(self) -> float:
        """Latent frames per second (21.53 Hz at the defaults)."""
        return self.sample_rate / self.samples_per_latent

    @property
    def compression_ratio(self) -> float:
        """Audio numbers per latent number (64 at the defaults, mono)."""
        return self.channels * self.samples_per_latent / self.latent_dim

    @property
    def decoder_receptive_latent_frames(self) -> int:
        """Latent frames of look-back that fully determine a new frame's STFT output."""
        stft_frames = self.dec_blocks * (self.dec_kernel - 1)  # causal depthwise convs
        return -(-stft_frames // self.downsample) + 2  # + 2 for the latent-rate input conv

    def to_dict(self) -> dict:
        d = asdict(self)
        d["enc_blocks"] = list(self.enc_blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> CodecConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "enc_blocks" in kw:
            kw["enc_blocks"] = tuple(kw["enc_blocks"])
        return cls(**kw)


# The decoder's shape: what a new decoder for an existing encoder (--init) may change.
DECODER_FIELDS = ("dec_width", "dec_blocks", "dec_mult", "dec_kernel", "max_log_mag")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 6000  # optimiser steps
    batch: int = 8  # segments per step
    segment_latents: int = 40  # segment length in latent frames (40 -> 1.86 s)
    lr: float = 8e-4  # AdamW peak learning rate (cosine decay to lr/20 after warmup)
    warmup: int = 200
    weight_decay: float = 0.01
    mel_weight: float = 2.0  # log-mel L1
    stft_weight: float = 1.0  # multi-resolution STFT (spectral convergence + log-mag L1)
    latent_l2: float = 1e-3  # L2 penalty on the latent (keeps it bounded for diffusion)
    latent_noise: float = 0.05  # std of Gaussian noise added to the latent before decoding
    cache_hours: float = 3.0  # hours of train-split audio cached as an int16 memmap
    ckpt_minutes: float = 5.0  # checkpoint interval (wall clock)
    log_every: int = 20  # steps between JSONL log lines
    valid_every: int = 500  # steps between validation passes (with --valid-cache)
    valid_segments: int = 64  # fixed validation segments
    threads: int = 2  # torch intra-op threads
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, tuple[CodecConfig, TrainConfig]] = {
    # Trains on this 2-core CPU in about an hour while sharing it.
    "cpu": (CodecConfig(), TrainConfig()),
    # A new decoder for the shipped encoder (--init, --freeze-encoder) on a lent GPU:
    # the same decoder shape (fine-tuned from the shipped one), minutes-bound.
    "gpu-decoder": (
        CodecConfig(),
        TrainConfig(steps=200_000, batch=64, lr=4e-4, warmup=300, ckpt_minutes=1.5,
                    log_every=100, threads=4),
    ),
    # The same at a third of the learning rate: at 4e-4 the fine-tune's gradients grew
    # from step ~2,000 and the loss climbed back (session 9's H200 run).
    "gpu-decoder-low-lr": (
        CodecConfig(),
        TrainConfig(steps=200_000, batch=64, lr=1.3e-4, warmup=100, ckpt_minutes=1.5,
                    log_every=100, valid_every=250, threads=4),
    ),
    # A wider, deeper decoder from scratch (about 1.3x the shipped decode time on a CPU).
    "gpu-decoder-wide": (
        CodecConfig(dec_width=256, dec_blocks=6),
        TrainConfig(steps=200_000, batch=64, lr=8e-4, warmup=500, ckpt_minutes=1.5,
                    log_every=100, threads=4),
    ),
    # Seconds-long smoke preset for tests.
    "test": (
        CodecConfig(enc_width=32, enc_blocks=(1, 1, 1), dec_width=32, dec_blocks=2, dec_mult=2),
        TrainConfig(steps=4, batch=2, segment_latents=8, warmup=1, cache_hours=0.01, log_every=1,
                    valid_every=2, valid_segments=2),
    ),
}


def get_preset(name: str) -> tuple[CodecConfig, TrainConfig]:
    if name not in PRESETS:
        raise ValueError(f"unknown codec preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
