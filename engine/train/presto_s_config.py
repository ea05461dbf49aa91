"""Presto-S / Presto-LS step-distillation presets: typed, frozen, no framework import.

The four noise distributions of the method (DESIGN section 7) are fields of their own:

    noise_gen    sigmas at which the generator is called during training (its inputs)
    noise_dmd    sigmas at which the generator's sample is noised for the DMD gradient
    noise_fake   sigmas of the fake-score network's denoising loss
    noise_gan    sigmas at which real and generated latents are noised for the discriminator

Defaults follow the paper's finding: generator inputs on the inference schedule
(the levels of Karras rho-7 schedules of 1, 2, 4 and 8 steps), DMD, fake score and
GAN on the teacher's training log-normal. `ablation(cfg, name)` gives the two
ablations: "gen-train" (generator inputs on the training log-normal instead) and
"discrete" (discrete-time DMD: the generator only ever sees the four levels of the
4-step schedule, DMD/fake/GAN sigmas on a fixed grid). Data settings (known-prefix
rate, latent statistics, the teacher's log-normal) come from the teacher's
BaseTrainConfig; only what is new to Presto-S lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

NOISE_KINDS = ("lognormal", "schedule", "karras", "grid")
GEN_INPUTS = ("backward", "real")
DMD_NORMS = ("sample", "batch")  # how dmd_loss scales the (fake - real) direction
ABLATIONS = ("gen-train", "discrete")
NOISE_FIELDS = ("noise_gen", "noise_dmd", "noise_fake", "noise_gan")


@dataclass(frozen=True)
class NoiseDist:
    """A distribution of noise levels sigma (sampled by engine.train.presto_s_parts).

    lognormal: ln sigma ~ N(p_mean, p_std^2), the training distribution (None: the teacher's);
    schedule:  n ~ U(steps), then one of the n levels of distilled_sigmas(n) uniformly: the
               sigmas a sampler of 1/2/4/8 steps actually visits (the inference distribution);
    karras:    the continuous version: sigma^(1/rho) uniform between the schedule's ends;
    grid:      one of `levels` fixed quantiles of the log-normal, uniformly (discrete time).
    """

    kind: str = "lognormal"
    p_mean: float | None = None  # lognormal / grid; None: the teacher's p_mean
    p_std: float | None = None  # lognormal / grid; None: the teacher's p_std
    steps: tuple[int, ...] = (1, 2, 4, 8)  # schedule: step counts whose levels are drawn
    levels: int = 1000  # grid: number of fixed levels
    sigma_min: float = 0.002  # schedule / karras: the sampling schedule's ends
    sigma_max: float = 80.0
    rho: float = 7.0

    def __post_init__(self) -> None:
        if self.kind not in NOISE_KINDS:
            raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {self.kind!r}")
        if not self.steps or min(self.steps) < 1 or self.levels < 1:
            raise ValueError("schedule steps and grid levels must be >= 1")
        if not 0.0 < self.sigma_min < self.sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min}, "
                             f"{self.sigma_max}")
        if self.p_std is not None and self.p_std <= 0:
            raise ValueError(f"p_std must be > 0, got {self.p_std}")

    def with_lognormal(self, p_mean: float, p_std: float) -> NoiseDist:
        """Fill an unset log-normal mean / std (the teacher's)."""
        return replace(self, p_mean=self.p_mean if self.p_mean is not None else p_mean,
                       p_std=self.p_std if self.p_std is not None else p_std)

    @classmethod
    def from_dict(cls, d: dict) -> NoiseDist:
        d = dict(d)
        d["steps"] = tuple(d.get("steps", (1, 2, 4, 8)))
        return cls(**d)


INFERENCE = NoiseDist(kind="schedule")
TRAINING = NoiseDist(kind="lognormal")


@dataclass(frozen=True)
class PrestoSConfig:
    # --- data (the teacher's corpus and cache; shorter crops than its 32 s windows) ---
    # longest training crop in latent frames (8 s at 21.53 Hz): a step's cost grows with it,
    # and rotary positions let the generator run on the 32 s serving window regardless
    window_frames: int = 172
    batch: int = 4  # generator samples per update (and per fake-score update)
    # --- noise distributions (the paper's key finding: see the module docstring) ---
    noise_gen: NoiseDist = INFERENCE
    noise_dmd: NoiseDist = TRAINING
    noise_fake: NoiseDist = TRAINING
    noise_gan: NoiseDist = TRAINING
    # Generator inputs below sigma_max: "backward" runs the generator itself from
    # sigma_max down the sampled schedule (no gradient) and renoises its own x0 estimate,
    # exactly what sampling feeds it (DMD2's backward simulation; ~1.4 extra forwards per
    # sample with the default `gen`); "real" noises corpus latents (cheaper, but the
    # generator never sees its own errors during training).
    gen_input: str = "backward"
    # --- DMD (Yin et al. 2024, DMD2) ---
    guidance: float = 3.0  # classifier-free guidance weight of the real score (the teacher)
    # DMD noise levels below this get the unguided real score (a guidance interval); 0 = all
    guidance_sigma_min: float = 0.0
    # generator inputs below this sigma regress to the guided teacher's one-step x0 instead
    # of the DMD direction (engine.train.presto_s_steps.generator_update); 0 = DMD only
    anchor_sigma: float = 0.0
    fake_updates: int = 5  # fake-score (and discriminator) updates per generator update
    # DMD gradient scale (engine.train.presto_s_parts.dmd_loss): "sample" (DMD2: each
    # sample's direction over its own mean |x0_g - real|) or "batch" (one scale for the
    # batch, so a nearly right sample takes a nearly zero step). Batch: at 200 updates the
    # 4-step held-out FD 178.7 vs 188.4, log-mel FD 366 vs 446 (docs/presto_s.md, session 6)
    dmd_norm: str = "batch"
    # The fake score sees which generator input level each sample came from (through its
    # budget input, which it does not otherwise use): it models each level's outputs on
    # their own instead of their mixture, so a level's good samples are not pushed to make
    # up for another level's poor ones (engine.train.presto_s_parts.level_label). Measured
    # no better than the mixture on the real teacher (docs/presto_s.md, session 6): off.
    fake_by_level: bool = False
    # Presto-LS: the fake score and the critic see the layer budget each generator sample
    # was made at (through the fake network's budget input, started constant as with
    # fake_by_level), so each budget's outputs are modelled and judged against the real data
    # on their own instead of as one mixture. Why: with a shared fake score and critic (GAN
    # weight 0.2) budget-1 samples drifted brighter than real (probe lmean_4 +0.81 at 250
    # updates) while budget-0.6 ones were duller (-0.64). Measured on (session 11, 839
    # updates): +0.38 / -0.17 at the end, but held out no better than Presto-S, so off by
    # default (docs/presto_s.md, "Session 11").
    fake_by_budget: bool = False
    # --- adversarial loss (least squares, a head on the fake score's hidden states) ---
    gan: bool = True
    disc_block: float = 0.5  # features after this fraction of the fake network's blocks
    disc_hidden: int = 128  # channels of the discriminator head's convolutions
    # weight of the generator's LSGAN loss next to DMD. DMD2's 3e-3 did nothing measurable
    # here (the same as no GAN); 5e-2 stops the log-mel drift (DMD alone makes the samples
    # duller and quieter, the discriminator sees it): held-out 4-step FD at 500 updates
    # 164.6, log-mel 243 (docs/presto_s.md, session 7)
    gan_gen_weight: float = 5e-2
    gan_disc_weight: float = 1e-2  # weight of the discriminator loss next to fake denoising
    # --- Presto-LS: the generator's layer budget (None for plain Presto-S: all blocks) ---
    b_min: float = 0.6  # budgets drawn uniformly from [b_min, 1] per generator call ...
    p_full: float = 0.2  # ... except this fraction, at exactly b = 1
    # --- optimisation ---
    steps: int = 500  # generator updates (each with `fake_updates` fake-score updates)
    # Adam peak learning rates; warm-up, then cosine to lr * lr_final. Half the teacher's
    # peak: on a toy teacher (width 64) 1/2 of its LR distilled well in 300 updates, 1/10
    # hardly moved the generator (docs/presto_s.md)
    # Real-scale runs (docs/presto_s.md): 1.5e-4 wrecked the generator within a few hundred
    # batch-4 updates; 1e-5 improved the yardstick's FD within 89. DMD2 used 2e-6.
    # Session 5 (docs/presto_s.md): with the fake score at 5e-5 every run drifted after ~100
    # updates; at 2e-4 it tracks the generator better (8-step FD on decoded audio 61.6 vs
    # 86.5 at 150 updates, log-mel FD rising more slowly).
    lr_gen: float = 1e-5
    lr_fake: float = 2e-4
    warmup: int = 20
    lr_final: float = 0.5
    betas: tuple[float, float] = (0.5, 0.99)  # low beta1: the critic moves under the generator
    weight_decay: float = 0.0
    grad_clip: float = 1.0  # max global gradient norm, generator and fake score alike
    ema_decay: float = 0.995  # generator EMA (half-life ~140 updates): what is exported
    # --- FD along training (EMA generator, fixed valid windows and seeds) ---
    fd_every: int = 50  # generator updates between FD measurements
    fd_clips: int = 32  # valid windows (and as many generated clips per step count)
    # probe window length in latent frames; 0 = window_frames. Set it to compare runs whose
    # training crops differ on the same windows (or to probe at the 32 s serving length)
    fd_frames: int = 0
    fd_steps: tuple[int, ...] = (1, 2, 4, 8)  # sampling step counts measured
    reference_steps: int = 32  # the teacher's reference: DPM-Solver++(2M) with guidance
    # also FD on codec-decoded samples: the quality classifier's features ("cfd_n"; latent
    # statistics are blind to blur) and log-mel statistics ("lfd_n"; the classifier is blind
    # to level)
    fd_audio: bool = True
    # EMA-only snapshots (RUN/snapshots/step-N/checkpoint.pt, exportable) every this many
    # updates, so the best point of a run that later drifts can be exported; 0 = none
    snapshot_every: int = 100
    # --- bookkeeping ---
    ckpt_minutes: float = 5.0  # checkpoint interval (wall clock)
    log_every: int = 10  # generator updates between JSONL log lines
    threads: int = 0  # torch intra-op threads; 0 = this machine's cores
    seed: int = 0
    ablation: str | None = None  # set by `ablation()`; recorded for reports

    def __post_init__(self) -> None:
        if self.gen_input not in GEN_INPUTS:
            raise ValueError(f"gen_input must be one of {GEN_INPUTS}, got {self.gen_input!r}")
        if self.dmd_norm not in DMD_NORMS:
            raise ValueError(f"dmd_norm must be one of {DMD_NORMS}, got {self.dmd_norm!r}")
        if self.fake_updates < 1 or self.batch < 1 or self.steps < 0 or self.window_frames < 2:
            raise ValueError("fake_updates >= 1, batch >= 1, steps >= 0, window_frames >= 2 "
                             "are required")
        if self.fd_frames < 0 or self.fd_frames == 1:
            raise ValueError(f"fd_frames must be 0 (the training window) or >= 2, got "
                             f"{self.fd_frames}")
        if self.fake_by_level and self.fake_by_budget:
            raise ValueError("fake_by_level and fake_by_budget both use the fake score's "
                             "budget input: choose one")
        if not 0.0 < self.disc_block <= 1.0:
            raise ValueError(f"disc_block is a fraction of the blocks in (0, 1], got "
                             f"{self.disc_block}")
        if not 0.0 <= self.b_min <= 1.0 or not 0.0 <= self.p_full <= 1.0:
            raise ValueError(f"b_min and p_full must be in [0, 1], got {self.b_min}, "
                             f"{self.p_full}")
        if self.guidance < 0 or min(self.gan_gen_weight, self.gan_disc_weight,
                                    self.guidance_sigma_min, self.anchor_sigma) < 0:
            raise ValueError("guidance and GAN weights must be >= 0")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")
        if self.snapshot_every < 0:
            raise ValueError(f"snapshot_every must be >= 0, got {self.snapshot_every}")
        if not self.fd_steps or min(self.fd_steps) < 1:
            raise ValueError("fd_steps must be step counts >= 1")
        if self.ablation is not None and self.ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}, got {self.ablation!r}")

    @property
    def probe_frames(self) -> int:
        """Latent frames of the FD probe's windows (fd_frames, else the training crop)."""
        return self.fd_frames or self.window_frames

    def with_teacher(self, p_mean: float, p_std: float) -> PrestoSConfig:
        """Every unset log-normal parameter filled with the teacher's training values."""
        return replace(self, **{name: getattr(self, name).with_lognormal(p_mean, p_std)
                                for name in NOISE_FIELDS})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PrestoSConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for name in NOISE_FIELDS:
            if isinstance(kw.get(name), dict):
                kw[name] = NoiseDist.from_dict(kw[name])
        for name in ("betas", "fd_steps"):
            if name in kw:
                kw[name] = tuple(kw[name])
        return cls(**kw)


def ablation(cfg: PrestoSConfig, name: str | None) -> PrestoSConfig:
    """The config of an ablation run (None: cfg unchanged)."""
    if name is None:
        return cfg
    if name == "gen-train":  # generator inputs on the training distribution
        return replace(cfg, noise_gen=TRAINING, ablation=name)
    if name == "discrete":  # discrete-time DMD: four generator levels, DMD/GAN on a fixed grid
        grid = NoiseDist(kind="grid")
        return replace(cfg, noise_gen=NoiseDist(kind="schedule", steps=(4,)), noise_dmd=grid,
                       noise_fake=grid, noise_gan=grid, ablation=name)
    raise ValueError(f"unknown ablation {name!r}; choose one of {ABLATIONS}")


PRESETS: dict[str, PrestoSConfig] = {
    # ~35-55 minutes on one CPU thread (4-6.5 s per generator update with its 5 fake-score
    # updates at batch 4 x 8 s, beside other training; docs/presto_s.md), resumable.
    "tiny": PrestoSConfig(),
    # Seconds-long smoke preset for tests.
    "micro": PrestoSConfig(
        window_frames=16, batch=2, fake_updates=2, steps=3, warmup=1, disc_hidden=8,
        fd_every=2, fd_clips=2, reference_steps=4, log_every=1, ema_decay=0.9, snapshot_every=2,
    ),
}


def get_preset(name: str) -> PrestoSConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown presto-s preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]

