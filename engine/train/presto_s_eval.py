"""FD along Presto-S training: the EMA generator at 1/2/4/8 steps against held-out latents.

    probe = FDProbe.build(cache, clips=16, frames=344, patch=2)
    row = probe.generator_row(ema, steps=(1, 2, 4, 8), budgets=(1.0,), schedule)  # {"fd_4": ..}
    ref = probe.teacher_fd(teacher, guidance=3.0, steps=32)   # DPM-Solver++(2M) with CFG

Frechet distance on the codec-latent statistics embedding (engine.bench.fd.latent_embedding:
mean and std over time per latent channel) of generated windows against the same number
of fixed valid windows (the split no model trains on), with fixed prompts and fixed noise:
numbers are comparable across steps of one run and across runs on the same cache. With
few clips the covariances are rank-deficient and FD carries a sample-size bias, so the
teacher's figure measured the same way is the yardstick, not zero.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.bench.fd import frechet_distance_of, latent_embedding
from engine.edm import karras_sigmas
from engine.edm.precond import EDMPrecond
from engine.edm.samplers import sample_dpmpp_2m
from engine.model.layer_schedule import LayerSchedule
from engine.train.checkpoint import read_log
from engine.train.latent_cache import LatentCache
from engine.train.presto_s_config import INFERENCE, NoiseDist
from engine.train.presto_s_parts import guided_teacher, sampling_sigmas
from engine.train.presto_s_steps import few_step_sample


@dataclass
class FDProbe:
    real: np.ndarray  # (N, C, T) valid latents
    text: torch.Tensor  # (N, 384) their caption embeddings (the prompts generated for)
    noise: torch.Tensor  # (N, C, T) fixed unit noise
    seed: int = 1234

    @classmethod
    def build(cls, cache: LatentCache, clips: int, frames: int, patch: int,
              seed: int = 1234) -> FDProbe:
        split = "valid" if len(cache.splits["valid"]) else "train"
        real, text = cache.fixed_windows(split, clips, frames, patch)
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(real.shape, generator=gen)
        return cls(real, torch.from_numpy(text), noise, seed)

    def fd(self, generated: torch.Tensor) -> float:
        """FD of generated latents (N, C, T) against the real windows."""
        fake = np.stack([latent_embedding(z) for z in generated.numpy()])
        return round(frechet_distance_of(fake, np.stack([latent_embedding(z) for z in self.real])),
                     5)

    def context(self) -> tuple[torch.Tensor, torch.Tensor]:
        """No known frames: known (N, C, T) and mask (N, 1, T) zeros."""
        return torch.zeros_like(self.noise), torch.zeros_like(self.noise[:, :1])

    @torch.no_grad()
    def generator_row(self, generator: EDMPrecond, steps: Sequence[int],
                      budgets: Sequence[float], schedule: LayerSchedule,
                      sampling: NoiseDist = INFERENCE) -> dict[str, float]:
        """{"fd_n": ...} per step count n at budget 1 ("fd_n_bB" at other budgets), sampling
        on the Karras schedule of `sampling`'s range (the generator's input distribution)."""
        was_training = generator.training
        generator.eval()
        known, mask = self.context()
        row = {}
        for budget in budgets:
            for n in steps:
                gen = torch.Generator().manual_seed(self.seed + n)
                x = few_step_sample(generator, self.noise, sampling_sigmas(sampling, n),
                                    self.text, known, mask, gen, budget, schedule)
                key = f"fd_{n}" if budget == 1.0 else f"fd_{n}_b{budget:g}"
                row[key] = self.fd(x)
        generator.train(was_training)
        return row

    @torch.no_grad()
    def teacher_fd(self, teacher: EDMPrecond, guidance: float, steps: int) -> float:
        """FD of the teacher's DPM-Solver++(2M) samples with CFG: the reference line."""
        known, mask = self.context()
        n = self.noise.shape[0]

        def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
            return guided_teacher(teacher, x, torch.full((n,), sigma), self.text, known, mask,
                                  guidance)

        sigmas = karras_sigmas(steps)
        return self.fd(sample_dpmpp_2m(denoise, self.noise * float(sigmas[0]), sigmas))


def plot_fd(log_path: Path, png_path: Path, reference: float | None) -> None:
    """FD against generator updates, one line per step count; the teacher as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 3.8))
    steps = [r["step"] for r in rows]
    for key in [k for k in rows[-1] if k.startswith("fd_")]:
        ax.plot(steps, [r.get(key, np.nan) for r in rows], marker=".", lw=1,
                label=key[3:].replace("_b", " steps, b=") + ("" if "_b" in key else " steps"))
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=1, label="teacher (DPM++ 2M, CFG)")
    ax.set_xlabel("generator update")
    ax.set_ylabel("FD, latent statistics (valid)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)
