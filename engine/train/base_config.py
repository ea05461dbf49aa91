"""Base-model (DiT under EDM) training presets: typed, frozen, no framework import.

Sizing `tiny` for this 2-core CPU (DESIGN section 5): a width-256, 8-layer DiT
takes about 1.5 s per step at batch 8 x 344 tokens (a 32 s window, frames
patched in pairs), about 2,400 steps an hour with the machine to itself. Three
hours are then ~7,000 steps; validation and checkpoints take a few percent, so
`tiny` asks for 6,500 and can be extended across sessions with --resume --steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from engine.model.config import DiTConfig
from engine.model.config import preset as dit_preset

DEVICE_CHOICES = ("auto", "cpu", "cuda")  # a trainer's --device (engine.train.device)


@dataclass(frozen=True)
class BaseTrainConfig:
    dit: DiTConfig = field(default_factory=lambda: dit_preset("tiny"))  # latent_channels: codec's
    # --- data ---
    window_frames: int = 689  # longest training window: 32 s of latent frames at 21.53 Hz
    bucket_frames: int = 64  # clips in one batch differ by less than this in usable length
    batch: int = 8  # global batch; split evenly across DDP ranks
    # --- optimisation ---
    steps: int = 6500  # total optimiser steps
    lr: float = 3e-4  # AdamW peak learning rate
    warmup: int = 300  # linear warm-up steps, then cosine decay to lr * lr_final
    lr_final: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max global gradient norm
    ema_decay: float = 0.999  # EMA of the weights (half-life ~700 steps); what generation uses
    # --- EDM ---
    # Log-normal training sigmas, ln(sigma) ~ N(p_mean, p_std^2). EDM's -1.2 was set for
    # sigma_data = 0.5; what matters is sigma / sigma_data, so unit-variance latents shift
    # it by ln 2 to about -0.5 (same median noise-to-signal ratio, 0.6).
    p_mean: float = -0.5
    p_std: float = 1.2
    sigma_data: float | None = None  # None: measured on the cached train latents (~1)
    # --- conditioning ---
    text_dropout: float = 0.1  # P(caption -> null embedding), for classifier-free guidance
    prefix_p: float = 0.5  # P(a sample gets a known prefix) for continuation
    min_new_frames: int = 8  # a known prefix leaves at least this many frames to generate
    budget: float = 1.0  # Presto-L layer budget fed to the base model (all layers)
    # --- bookkeeping ---
    val_every: int = 250  # steps between validation passes (EMA weights, valid split)
    val_clips: int = 16  # fixed valid windows
    val_sigmas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)  # fixed validation noise levels
    ckpt_minutes: float = 5.0  # checkpoint interval (wall clock)
    log_every: int = 10  # steps between JSONL log lines
    threads: int = 0  # torch intra-op threads; 0 = this machine's cores / local ranks
    seed: int = 0

    def __post_init__(self) -> None:
        if self.window_frames < self.dit.patch or self.batch < 1 or self.steps < 0:
            raise ValueError("window_frames >= patch, batch >= 1 and steps >= 0 are required")
        if not 0.0 <= self.text_dropout <= 1.0 or not 0.0 <= self.prefix_p <= 1.0:
            raise ValueError("text_dropout and prefix_p are probabilities")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> BaseTrainConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["dit"] = DiTConfig(**kw["dit"])
        for name in ("betas", "val_sigmas"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)


PRESETS: dict[str, BaseTrainConfig] = {
    # ~3 hours on this 2-core CPU.
    "tiny": BaseTrainConfig(),
    # tiny's network (same exports, same distillation presets) on one large GPU: 32x the
    # batch, a higher peak LR, minutes-bound (`--minutes`: the LR decay follows the clock).
    # Sized for an H100 lent for a few minutes: about 50x the windows tiny sees in 3 hours.
    "gpu": BaseTrainConfig(
        batch=256,
        steps=100_000,
        lr=6e-4,
        warmup=500,
        val_every=500,
        ckpt_minutes=1.5,
        log_every=50,
    ),
    # Seconds-long smoke preset for tests.
    "micro": BaseTrainConfig(
        dit=DiTConfig(width=32, depth=2, heads=2, freq_dim=32),
        window_frames=24,
        bucket_frames=8,
        batch=2,
        steps=3,
        warmup=1,
        val_every=2,
        val_clips=2,
        val_sigmas=(0.5, 5.0),
        log_every=1,
        min_new_frames=2,
    ),
}


def get_preset(name: str) -> BaseTrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown base preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
