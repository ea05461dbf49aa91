"""The live engine's settings: one frozen dataclass, checked against the served model.

    cfg = StreamConfig(hop_seconds=2.0)
    geo = cfg.geometry(model)          # hop in latent frames and samples, window, ring sizes
    geo.hop_frames, geo.hop_samples    # 43, 88064 for the shipped model (1.997 s)

Times are given in seconds and rounded to whole latent frames (hop) or samples
(crossfade, margins): the hop must be a whole number of latent frames because each
hop appends that many frames to the latent ring and decodes exactly them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_PROMPT = "a lively folk tune for fiddle and guitar"


@dataclass(frozen=True)
class StreamConfig:
    hop_seconds: float = 2.0  # new audio per hop; each hop generates a whole window
    crossfade_seconds: float = 0.03  # equal-power seam at reset, resume and failed hops
    margin_seconds: float = 0.3  # audio kept queued beyond the predicted hop cost (jitter)
    target_load: float = 0.5  # share of a hop's audio time generation may take: 0.5 = 2x headroom
    ring_seconds: float = 0.0  # PCM ring capacity; 0 = max(8 s, 4 hops)
    max_steps: int | None = None  # most sampler steps per hop; None = the model's default
    min_steps: int = 1  # fewest steps the governor may choose
    adaptive: bool = True  # False: always max_steps at the ceiling (reproducible under any load)
    mode: str | None = None  # "diffusion" | "distilled"; None = the model's
    sampler: str = "dpmpp_2m"  # diffusion mode: one evaluation per step (heun takes two)
    glide_hops: int = 2  # hops over which a prompt change is interpolated (1 = a cut)
    restart_on_control: bool = True  # redo the hop in flight for a control when time allows
    restart_min_fraction: float = 0.5  # ... if at least this share of the usual steps fit
    prompt: str = DEFAULT_PROMPT  # prompt at start (and after reset unless changed)
    budget: float | None = None  # performer's layer-budget ceiling; None = the model's default
    guidance: float | None = None  # diffusion mode; None = the model's default
    seed: int = 0
    variation: float = 0.0  # 0..1: how far each hop's noise leans toward a second stream

    def __post_init__(self) -> None:
        checks = [
            (self.hop_seconds > 0, f"hop_seconds must be > 0, got {self.hop_seconds}"),
            (0 <= self.crossfade_seconds <= 0.5,
             f"crossfade_seconds must be in [0, 0.5], got {self.crossfade_seconds}"),
            (self.margin_seconds >= 0, f"margin_seconds must be >= 0, got {self.margin_seconds}"),
            (0 < self.target_load <= 1, f"target_load must be in (0, 1], got {self.target_load}"),
            (self.ring_seconds >= 0, f"ring_seconds must be >= 0, got {self.ring_seconds}"),
            (self.min_steps >= 1, f"min_steps must be >= 1, got {self.min_steps}"),
            (self.max_steps is None or self.max_steps >= self.min_steps,
             f"max_steps must be >= min_steps ({self.min_steps}), got {self.max_steps}"),
            (self.glide_hops >= 1, f"glide_hops must be >= 1, got {self.glide_hops}"),
            (0 < self.restart_min_fraction <= 1,
             f"restart_min_fraction must be in (0, 1], got {self.restart_min_fraction}"),
            (0 <= self.variation <= 1, f"variation must be in [0, 1], got {self.variation}"),
            (self.budget is None or 0 <= self.budget <= 1,
             f"budget must be in [0, 1], got {self.budget}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def with_(self, **changes) -> StreamConfig:
        return replace(self, **changes)

    def geometry(self, model) -> StreamGeometry:
        """Sizes in frames and samples for `model` (a ServedModel); ValueError if the hop
        does not fit the model's window."""
        window = int(model.window_frames)
        spl = int(model.samples_per_latent)
        sr = int(model.sample_rate)
        hop = round(self.hop_seconds * model.latent_rate)
        max_hop = window // 2
        if not 1 <= hop <= max_hop:
            lo = spl / sr
            hi = max_hop * spl / sr
            raise ValueError(
                f"hop {self.hop_seconds:g} s is {hop} latent frames; the model's window is "
                f"{window} frames ({window * spl / sr:.2f} s), so the hop must be between "
                f"{lo:.3f} s (1 frame) and {hi:.2f} s (half the window, the rest is context)")
        hop_samples = hop * spl
        ring = self.ring_seconds or max(8.0, 4 * hop_samples / sr)
        ring_samples = max(int(round(ring * sr)), 2 * hop_samples)
        return StreamGeometry(
            window_frames=window, hop_frames=hop, hop_samples=hop_samples,
            samples_per_latent=spl, sample_rate=sr, channels=int(model.channels),
            ring_samples=ring_samples,
            crossfade_samples=int(round(self.crossfade_seconds * sr)),
        )


@dataclass(frozen=True)
class StreamGeometry:
    window_frames: int  # W: latent frames per generated window (context + new)
    hop_frames: int  # H: new latent frames per hop
    hop_samples: int  # H * samples_per_latent: PCM samples each hop appends
    samples_per_latent: int
    sample_rate: int
    channels: int
    ring_samples: int  # PCM ring capacity per channel
    crossfade_samples: int

    @property
    def context_frames(self) -> int:
        """W - H: frames of the latent ring every hop conditions on."""
        return self.window_frames - self.hop_frames

    @property
    def hop_seconds(self) -> float:
        return self.hop_samples / self.sample_rate
