"""DiT sizes as typed, frozen presets. No torch import: the runtime reads these too."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class DiTConfig:
    latent_channels: int = 32  # C of the codec latent (B, C, T)
    patch: int = 2  # latent frames per token: 2 makes a 32 s window 344 tokens, not 689
    width: int = 256  # token width D
    depth: int = 8  # number of adaLN-Zero blocks
    heads: int = 4  # attention heads; width // heads is the head size (even, for rotary)
    mlp_ratio: float = 4.0  # MLP hidden = mlp_ratio * width
    text_dim: int = 384  # pooled all-MiniLM-L6-v2 sentence embedding
    freq_dim: int = 256  # sinusoidal features for noise level and budget
    rope_base: float = 10000.0  # rotary base period; positions are token indices
    # Multiplies the pooled text embedding before the text MLP. MiniLM's vectors have unit
    # norm, ~0.05 per component, which made the text path ~10x weaker than the noise-level
    # path at initialisation: the first CPU-trained base model ignored its prompts (loss with
    # shuffled captions within 1% of the right ones). sqrt(text_dim) gives unit-variance
    # inputs. 1.0 (the default) keeps models trained before this field loadable as they were.
    text_scale: float = 1.0
    # Presto-L: which blocks run at layer count k (engine.model.layer_schedule.route):
    # "reroute" (blocks 0..k-2, then the last), "early_exit" (blocks 0..k-1, the ASE
    # baseline) or "ranked" (the blocks that matter least at the noise level dropped first).
    exit_mode: str = "reroute"
    # ranked only: ((sigma_edge, (block, ...)), ...) drop orders by noise band
    # (engine.model.layer_schedule.DropOrder; measured by engine.train block-order)
    drop_order: tuple = ()

    def __post_init__(self) -> None:
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        if (self.width // self.heads) % 2:
            raise ValueError(f"head size {self.width // self.heads} must be even for rotary")
        if self.depth < 1 or self.patch < 1 or self.latent_channels < 1:
            raise ValueError("depth, patch and latent_channels must be >= 1")
        from engine.model.layer_schedule import EXIT_MODES, check_drop_order

        if self.exit_mode not in EXIT_MODES:
            raise ValueError(f"exit_mode must be one of {EXIT_MODES}, got {self.exit_mode!r}")
        if self.exit_mode == "ranked":  # JSON lists -> tuples (frozen: set through object)
            object.__setattr__(self, "drop_order", check_drop_order(self.depth, self.drop_order))
        elif self.drop_order:
            raise ValueError(f"drop_order is for exit_mode 'ranked', not {self.exit_mode!r}")
        else:
            object.__setattr__(self, "drop_order", ())  # [] from JSON

    @property
    def in_channels(self) -> int:
        """Channels of the network input cat([x_noisy, known * mask, mask])."""
        return 2 * self.latent_channels + 1

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, DiTConfig] = {
    # CPU training here: ~1.5 s per step at batch 8 x 344 tokens on 2 threads.
    "tiny": DiTConfig(width=256, depth=8, heads=4, text_scale=384**0.5),
    # Accelerators.
    "small": DiTConfig(width=512, depth=12, heads=8, text_scale=384**0.5),
    "base": DiTConfig(width=768, depth=16, heads=12, text_scale=384**0.5),
}


def preset(name: str, **overrides: object) -> DiTConfig:
    """A named preset, with optional field overrides (e.g. latent_channels=64)."""
    if name not in PRESETS:
        raise ValueError(f"unknown DiT preset {name!r}; choose from {sorted(PRESETS)}")
    base = PRESETS[name].to_dict()
    base.update(overrides)
    return DiTConfig(**base)
