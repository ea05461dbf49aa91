"""Presto-L fine-tuning presets: typed, frozen, no framework import.

Everything about the data (window, batch buckets, known-prefix and text-dropout
rates, log-normal sigma parameters, sigma_data) is inherited from the teacher's
BaseTrainConfig, so the fine-tune sees exactly the base model's training
distribution; only what is new to Presto-L lives here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from engine.model.layer_schedule import EXIT_MODES, LayerSchedule


@dataclass(frozen=True)
class PrestoLConfig:
    # --- optimisation (a fine-tune: lower peak LR and shorter warm-up than the base run) ---
    # total optimiser steps; a step costs ~1.4x a base step (the frozen teacher's forward)
    steps: int = 2000
    lr: float = 1e-4  # AdamW peak learning rate
    warmup: int = 100  # linear warm-up steps, then cosine decay to lr * lr_final
    lr_final: float = 0.1
    ema_decay: float = 0.999  # EMA of the student's weights; what sampling and the bench use
    batch: int | None = None  # None: the teacher's batch
    # --- Presto-L ---
    # "reroute" (Presto-L), "early_exit" (the ASE baseline) or "ranked" (Presto-L dropping
    # the blocks that matter least at each noise band first: drop_order)
    exit_mode: str = "reroute"
    drop_order: tuple = ()  # ranked: engine.model.layer_schedule.DropOrder (block-order)
    b_min: float = 0.25  # budgets are drawn uniformly from [b_min, 1] per sample ...
    # ... except this fraction, which gets exactly b = 1 (all blocks): the teacher only ever
    # saw b = 1, and without these rows the full-depth model drifts (a 4-block toy, 200
    # steps: b = 1 valid loss 1.103 -> 1.259 with p_full 0, -> 1.121 with p_full 0.2)
    p_full: float = 0.2
    # Weight of the denoising loss (x0 toward the data). 0: pure distillation from the teacher
    # (self-teacher and guided terms only), which leaves a full-budget row nothing to learn.
    denoise: float = 1.0
    self_teacher: float = 1.0  # weight of the self-teacher loss (x0 toward the full-depth teacher)
    # Weight of the guided self-teacher loss: the student's classifier-free-guided output
    # (its null-prompt and prompted predictions at the same budget, mixed at `guidance`)
    # toward the teacher's at full depth. 0 (off) in the plain recipe, whose null branch sees
    # only the text-dropped rows: under CFG 3 the session-10 Presto-L came out louder and
    # brighter than the base (docs/presto_l.md). Costs a second student and teacher pass.
    guided_teacher: float = 0.0
    guidance: float = 3.0  # the CFG weight that term mixes at (the presto-l bench's)
    min_blocks: int = 2  # LayerSchedule.min_blocks
    tilt: float = 1.0  # LayerSchedule.tilt: how strongly blocks move from high to low noise
    sigma_min: float = 0.002  # LayerSchedule's log-sigma range: the sampling schedule's ends
    sigma_max: float = 80.0
    # --- bookkeeping ---
    val_every: int = 250  # steps between validation passes (EMA student, valid split)
    val_budgets: tuple[float, ...] = (1.0, 0.5, 0.25)  # budgets validated at each fixed sigma
    ckpt_minutes: float = 5.0  # checkpoint interval (wall clock)
    log_every: int = 10  # steps between JSONL log lines
    threads: int = 0  # torch intra-op threads; 0 = this machine's cores
    seed: int = 0

    def __post_init__(self) -> None:
        if self.exit_mode not in EXIT_MODES:
            raise ValueError(f"exit_mode must be one of {EXIT_MODES}, got {self.exit_mode!r}")
        if (self.exit_mode == "ranked") != bool(self.drop_order):
            raise ValueError("a drop_order goes with exit_mode 'ranked' and only with it")
        # JSON lists -> tuples (the depth is checked by DiTConfig)
        object.__setattr__(self, "drop_order", tuple(
            (float(edge), tuple(int(i) for i in order)) for edge, order in self.drop_order))
        if not 0.0 <= self.b_min <= 1.0 or not 0.0 <= self.p_full <= 1.0:
            raise ValueError(f"b_min and p_full must be in [0, 1], got {self.b_min}, "
                             f"{self.p_full}")
        if self.guided_teacher < 0 or self.guidance < 1.0:
            raise ValueError(f"guided_teacher >= 0 and guidance >= 1 are required, got "
                             f"{self.guided_teacher}, {self.guidance}")
        if self.self_teacher < 0 or self.steps < 0 or (self.batch is not None and self.batch < 1):
            raise ValueError("self_teacher >= 0, steps >= 0 and batch >= 1 are required")
        if self.denoise < 0 or self.denoise + self.self_teacher + self.guided_teacher == 0:
            raise ValueError(f"denoise >= 0 is required and some loss must have a weight, got "
                             f"denoise {self.denoise}, self_teacher {self.self_teacher}, "
                             f"guided_teacher {self.guided_teacher}")
        if not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1), got {self.ema_decay}")

    def schedule(self, depth: int) -> LayerSchedule:
        """The layer schedule k(sigma, b) for a network of `depth` blocks."""
        return LayerSchedule(depth, min(self.min_blocks, depth), self.tilt, self.sigma_min,
                             self.sigma_max)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PrestoLConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "val_budgets" in kw:
            kw["val_budgets"] = tuple(kw["val_budgets"])
        return cls(**kw)


PRESETS: dict[str, PrestoLConfig] = {
    # This CPU's batch whatever the teacher trained with (the GPU preset's is 256: at
    # that batch one CPU step takes minutes).
    "tiny": PrestoLConfig(batch=8),
    # A lent GPU's few minutes (scripts/gpu_train_presto.sh): 8x the CPU batch, the step
    # count a ceiling for `--minutes` to cut (the LR decay follows the clock), a shorter
    # EMA horizon for a run of one or two thousand steps.
    "gpu": PrestoLConfig(batch=64, steps=20000, ema_decay=0.998, val_every=500),
    # Seconds-long smoke preset for tests.
    "micro": PrestoLConfig(steps=3, warmup=1, val_every=2, log_every=1, val_budgets=(1.0, 0.25)),
}


def get_preset(name: str) -> PrestoLConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown presto-l preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
