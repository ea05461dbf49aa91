"""FD along Presto-S training: the EMA generator at 1/2/4/8 steps against held-out latents.

    probe = FDProbe.build(cache, clips=16, frames=344, patch=2, audio=AudioFD.open(codec, clf))
    row = probe.generator_row(ema, steps=(1, 2, 4, 8), budgets=(1.0,), schedule)  # {"fd_4": ..}
    ref = probe.teacher_fd(teacher, guidance=3.0, steps=32)   # {"fd": .., "cfd": ..}

Frechet distance on the codec-latent statistics embedding (engine.bench.fd.latent_embedding:
mean and std over time per latent channel) of generated windows against the same number
of fixed valid windows (the split no model trains on), with fixed prompts and fixed noise:
numbers are comparable across steps of one run and across runs on the same cache. With
few clips the covariances are rank-deficient and FD carries a sample-size bias, so the
teacher's figure measured the same way is the yardstick, not zero.

Latent statistics are blind to blur (a generator that averages modes keeps per-channel
means and spreads), which is exactly how an over-pushed DMD generator fails. With an
AudioFD the probe also decodes every sample with the codec and measures FD on the
quality bench's classifier features ("cfd_n"), against the codec's own decoding of the
same valid windows: the figure the quality bench reports, minus the codec's share. The
classifier ignores level, so log-mel statistics ("lfd_n") are measured too: a generator
whose multi-step samples fade towards silence scores well on "cfd" and badly on "lfd".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.bench.fd import frechet_distance_of, latent_embedding, level_offsets, logmel_embedding
from engine.edm import karras_sigmas
from engine.edm.precond import EDMPrecond
from engine.edm.samplers import sample_dpmpp_2m
from engine.model.layer_schedule import LayerSchedule
from engine.train.checkpoint import read_log
from engine.train.latent_cache import LatentCache
from engine.train.presto_s_config import INFERENCE, NoiseDist
from engine.train.presto_s_parts import guided_teacher, sampling_sigmas
from engine.train.presto_s_steps import few_step_sample


class AudioFD:
    """FD on the quality classifier's features of codec-decoded latents (onnxruntime, CPU).

    audio = AudioFD.open(codec_dir, classifier_dir)   # None (with the reason) if unusable
    audio.set_reference(real_latents)                 # (N, C, T) normalised latents
    audio.fd(generated_latents)                       # {"cfd": .., "lfd": ..}
    """

    def __init__(self, codec_dir: Path, classifier_dir: Path) -> None:
        from engine.bench.quality.embed import Classifier
        from engine.codec.runtime import CodecRuntime

        self.codec = CodecRuntime(codec_dir, device="cpu", threads=1)
        self.classifier = Classifier(classifier_dir, threads=1)
        self.reference: tuple[np.ndarray, np.ndarray] | None = None  # real (N, F), (N, 128)

    @classmethod
    def open(cls, codec_dir: Path | str | None, classifier_dir: Path | str | None
             ) -> tuple[AudioFD | None, str]:
        """(AudioFD, "") or (None, why not): a missing codec or classifier turns it off."""
        if codec_dir is None or classifier_dir is None:
            return None, "no codec or classifier given"
        try:
            return cls(Path(codec_dir), Path(classifier_dir)), ""
        except (OSError, ValueError, KeyError) as e:
            return None, str(e)

    def features(self, latents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """latents (N, C, T) normalised -> classifier features (N, F) and log-mel statistics
        (N, 128) of their decoded audio. The classifier ignores level (each crop is shifted
        to zero mean); log-mel statistics do not, and catch a generator that fades out."""
        raw = self.codec.denormalize(np.asarray(latents, dtype=np.float32))
        audio = self.codec.decode(raw)  # (N, channels, samples)
        rate = self.codec.cfg.sample_rate
        mel = np.stack([logmel_embedding(a, rate) for a in audio])
        return self.classifier.measure(list(audio), rate).features, mel

    def set_reference(self, real: np.ndarray) -> None:
        self.reference = self.features(real)

    def fd(self, generated: np.ndarray) -> dict[str, float]:
        """{"cfd": classifier FD, "lfd": log-mel FD} of generated latents against the real,
        and where the log-mel FD comes from: "lmean", the generated audio's mean log-mel
        level minus the real's over all bands (natural log; < 0: quieter or sparser), and
        "lhigh", the same over the top HIGH_BANDS bands (< 0: duller)."""
        if self.reference is None:
            raise RuntimeError("AudioFD.set_reference must run first")
        clf, mel = self.features(generated)
        return {"cfd": round(frechet_distance_of(clf, self.reference[0]), 3),
                "lfd": round(frechet_distance_of(mel, self.reference[1]), 3),
                **level_offsets(mel, self.reference[1])}


@dataclass
class FDProbe:
    real: np.ndarray  # (N, C, T) valid latents
    text: torch.Tensor  # (N, 384) their caption embeddings (the prompts generated for)
    noise: torch.Tensor  # (N, C, T) fixed unit noise
    seed: int = 1234
    audio: AudioFD | None = None  # classifier FD on decoded audio as well ("cfd_n")

    @classmethod
    def build(cls, cache: LatentCache, clips: int, frames: int, patch: int,
              seed: int = 1234, audio: AudioFD | None = None) -> FDProbe:
        split = "valid" if len(cache.splits["valid"]) else "train"
        real, text = cache.fixed_windows(split, clips, frames, patch)
        gen = torch.Generator().manual_seed(seed)
        noise = torch.randn(real.shape, generator=gen)
        if audio is not None:
            audio.set_reference(real)
        return cls(real, torch.from_numpy(text), noise, seed, audio)

    def fd(self, generated: torch.Tensor) -> float:
        """FD of generated latents (N, C, T) against the real windows."""
        fake = np.stack([latent_embedding(z) for z in generated.numpy()])
        return round(frechet_distance_of(fake, np.stack([latent_embedding(z) for z in self.real])),
                     5)

    def measures(self, generated: torch.Tensor, suffix: str) -> dict[str, float]:
        """{"fd" + suffix: latent FD; with an AudioFD "cfd" + suffix: classifier FD and
        "lfd" + suffix: log-mel FD of the decoded audio}."""
        row = {f"fd{suffix}": self.fd(generated)}
        if self.audio is not None:
            row.update({f"{k}{suffix}": v for k, v in self.audio.fd(generated.numpy()).items()})
        return row

    def context(self) -> tuple[torch.Tensor, torch.Tensor]:
        """No known frames: known (N, C, T) and mask (N, 1, T) zeros."""
        return torch.zeros_like(self.noise), torch.zeros_like(self.noise[:, :1])

    @torch.no_grad()
    def generator_row(self, generator: EDMPrecond, steps: Sequence[int],
                      budgets: Sequence[float], schedule: LayerSchedule,
                      sampling: NoiseDist = INFERENCE) -> dict[str, float]:
        """{"fd_n": ...} per step count n at budget 1 ("fd_n_bB" at other budgets; "cfd_..."
        alike with an AudioFD), sampling on the Karras schedule of `sampling`'s range (the
        generator's input distribution)."""
        was_training = generator.training
        generator.eval()
        dev = next(generator.parameters()).device
        noise, text = self.noise.to(dev), self.text.to(dev)
        known, mask = (v.to(dev) for v in self.context())
        row = {}
        for budget in budgets:
            for n in steps:
                gen = torch.Generator().manual_seed(self.seed + n)  # on the CPU, as in training
                x = few_step_sample(generator, noise, sampling_sigmas(sampling, n), text,
                                    known, mask, gen, budget, schedule).cpu()
                row.update(self.measures(x, f"_{n}" if budget == 1.0 else f"_{n}_b{budget:g}"))
        generator.train(was_training)
        return row

    @torch.no_grad()
    def teacher_fd(self, teacher: EDMPrecond, guidance: float, steps: int) -> dict[str, float]:
        """{"fd": .., "cfd": ..} of the teacher's DPM-Solver++(2M) samples with CFG: the
        reference lines."""
        dev = next(teacher.parameters()).device
        noise, text = self.noise.to(dev), self.text.to(dev)
        known, mask = (v.to(dev) for v in self.context())
        n = noise.shape[0]

        def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
            return guided_teacher(teacher, x, torch.full((n,), sigma, device=dev), text, known,
                                  mask, guidance)

        sigmas = karras_sigmas(steps)
        return self.measures(sample_dpmpp_2m(denoise, noise * float(sigmas[0]), sigmas).cpu(), "")


def reference_lines(reference: dict | float | None) -> dict[str, float]:
    """The teacher's reference as {"fd": .., "cfd": ..} (older runs stored one float)."""
    if reference is None:
        return {}
    if isinstance(reference, dict):
        return {k: float(v) for k, v in reference.items() if v is not None}
    return {"fd": float(reference)}


def plot_fd(log_path: Path, png_path: Path, reference: dict | float | None) -> None:
    """FD against generator updates, one line per step count, one panel per yardstick
    (latent statistics; classifier features when measured); the teacher dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        return
    lines = reference_lines(reference)
    panels = [p for p in ("fd", "cfd", "lfd") if any(k.startswith(p + "_") for k in rows[-1])]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.8), squeeze=False)
    steps = [r["step"] for r in rows]
    titles = {"fd": "FD, latent statistics (valid)", "cfd": "FD, classifier on decoded audio",
              "lfd": "FD, log-mel statistics of decoded audio"}
    for ax, panel in zip(axes[0], panels, strict=True):
        for key in [k for k in rows[-1] if k.startswith(panel + "_")]:
            name = key[len(panel) + 1:]
            ax.plot(steps, [r.get(key, np.nan) for r in rows], marker=".", lw=1,
                    label=name.replace("_b", " steps, b=") + ("" if "_b" in name else " steps"))
        if panel in lines:
            ax.axhline(lines[panel], color="k", ls="--", lw=1, label="teacher (DPM++ 2M, CFG)")
        ax.set_xlabel("generator update")
        ax.set_ylabel(titles[panel])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)
