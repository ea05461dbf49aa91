"""Offline generation with the PyTorch base model (the ONNX path comes with the export).

    python run_engine.py generate --prompt "a slow chorale for strings" --seconds 32 \
        --out chorale.wav [--model RUN] [--steps 32] [--guidance 3] [--seed 0] \
        [--sampler heun|euler|dpmpp2m] [--continue intro.wav]

prompt -> MiniLM embedding; Gaussian noise; an EDM sampler over the EMA weights
with classifier-free guidance (conditional and null-prompt passes batched
together); the codec decodes the latents to 44.1 kHz audio. With --continue the
given audio is encoded, its frames become the known prefix (network input and
pasted into every x0 estimate) and the output starts with that audio verbatim.
Outputs longer than the training window are generated window by window, each
new window keeping the previous `window - hop` frames as its known context: the
same sliding window the live engine runs.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from engine.edm import SAMPLERS, classifier_free_guidance, karras_sigmas, paste_known
from engine.edm.precond import EDMPrecond
from engine.latent_codec import LatentCodec, load_latent_codec, read_audio
from engine.model.dit import DiT
from engine.train.base_config import BaseTrainConfig

DEFAULT_MODEL = Path("/root/presto-data/runs/base")
SAMPLER_NAMES = {"heun": "heun", "euler": "euler", "dpmpp2m": "dpmpp_2m", "dpmpp_2m": "dpmpp_2m"}
CROSSFADE = 2048  # samples of linear crossfade from the given audio into the generated audio
# Frames a window may exceed the training window by: "32 s" is 690 frames (the last one
# partial) while 32 s clips train on 688; rotary positions extrapolate that far harmlessly,
# and one window is half the cost of two.
WINDOW_SLACK = 4


@dataclass(frozen=True)
class GenerateConfig:
    prompt: str
    out: Path  # WAV file to write
    seconds: float = 32.0  # total output length, the continued audio included
    model: Path = DEFAULT_MODEL  # base training run (checkpoint.pt)
    codec: Path | None = None  # default: the codec the model was trained with
    steps: int = 32  # sampler steps (Heun: 2 network evaluations each but the last)
    guidance: float = 3.0  # classifier-free guidance weight; 1 = no guidance
    seed: int = 0
    sampler: str = "heun"  # heun | euler | dpmpp2m
    continue_from: Path | None = None  # audio to continue (the output starts with it)
    hop_seconds: float = 8.0  # new audio per window once the output exceeds one window
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    ema: bool = True  # the EMA weights (what training validates); False: raw weights
    threads: int = 0  # torch threads; 0 = this machine's cores


@dataclass
class BaseModel:
    model: EDMPrecond
    cfg: BaseTrainConfig
    codec_path: Path
    step: int


def load_base(run_dir: Path, ema: bool = True) -> BaseModel:
    """The base model of a training run (EMA weights by default), in eval mode."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: train a base model with "
            "`python -m engine.train base ...` or pass --model RUN"
        )
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    model = EDMPrecond(DiT(cfg.dit), state["sigma_data"])
    model.net.load_state_dict(state["ema" if ema else "model"])
    return BaseModel(model.eval(), cfg, Path(state["codec"]), int(state["step"]))


def make_denoiser(
    model: EDMPrecond,
    text: torch.Tensor,
    known: torch.Tensor,
    mask: torch.Tensor,
    guidance: float,
    budget: float = 1.0,
):
    """denoise(x (1, C, T), sigma float) -> x0 with CFG and the known frames pasted in.

    text: (1, 384); known: (1, C, T); mask: (1, 1, T). With guidance != 1 the
    conditional and null-prompt passes run as one batch of 2.
    """
    null = model.net.null_text.detach()[None]  # (1, 384)

    def run(x: torch.Tensor, sigma: float, emb: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        return model(
            x,
            torch.full((b,), sigma),
            text_emb=emb,
            budget=torch.full((b,), budget),
            known=known.expand(b, -1, -1),
            mask=mask.expand(b, -1, -1),
        )

    def cond(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return run(x, sigma, text)

    if guidance == 1.0:
        return paste_known(cond, known, mask)
    both = torch.cat([text, null])  # (2, 384)
    last: dict = {}  # the previous call's (x, sigma) -> (cond, uncond) pair

    def pair(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        # Holding x keeps its identity unique: a freed tensor's id could be reused.
        if last.get("x") is not x or last.get("sigma") != sigma:
            d = run(torch.cat([x, x]), sigma, both)  # (2, C, T)
            last.update(x=x, sigma=sigma, value=(d[:1], d[1:]))
        return last["value"]

    guided = classifier_free_guidance(
        lambda x, s: pair(x, s)[0], lambda x, s: pair(x, s)[1], guidance
    )
    return paste_known(guided, known, mask)


def read_prefix(path: Path, codec: LatentCodec) -> np.ndarray:
    """The audio to continue, (C, N) at the codec's rate; ValueError if unusable."""
    audio = read_audio(path, codec.sample_rate, codec.channels)
    if audio.shape[1] < codec.samples_per_latent:
        raise ValueError(
            f"{path} is too short to continue: at least "
            f"{codec.samples_per_latent / codec.sample_rate:.3f} s are needed"
        )
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{path} holds non-finite samples")
    return audio


@torch.inference_mode()
def generate(cfg: GenerateConfig) -> dict:
    """Render cfg.seconds of audio to cfg.out; returns what was done and how fast."""
    if cfg.sampler not in SAMPLER_NAMES:
        raise ValueError(f"unknown sampler {cfg.sampler!r}; choose heun, euler or dpmpp2m")
    if cfg.seconds <= 0 or cfg.steps < 1:
        raise ValueError("seconds must be > 0 and steps >= 1")
    torch.set_num_threads(cfg.threads or len(os.sched_getaffinity(0)))
    t0 = time.monotonic()
    base = load_base(cfg.model, cfg.ema)
    codec = load_latent_codec(cfg.codec or base.codec_path)
    if codec.latent_dim != base.cfg.dit.latent_channels:
        raise ValueError(
            f"codec latent_dim {codec.latent_dim} does not match the model's "
            f"{base.cfg.dit.latent_channels} channels"
        )
    sr, spl = codec.sample_rate, codec.samples_per_latent
    n_out = int(round(cfg.seconds * sr))
    total = math.ceil(n_out / spl)  # latent frames to produce
    z = torch.zeros(1, codec.latent_dim, total)  # (1, C, frames)

    prefix = None
    pos = 0  # frames already known
    if cfg.continue_from is not None:
        prefix = read_prefix(cfg.continue_from, codec)  # (C, N)
        if prefix.shape[1] >= n_out:
            raise ValueError(
                f"--seconds {cfg.seconds} must exceed the length of the audio to "
                f"continue ({prefix.shape[1] / sr:.2f} s)"
            )
        known = torch.from_numpy(codec.encode(prefix))  # (C, K)
        pos = known.shape[1]
        z[0, :, :pos] = known

    from engine.prompt import shared_prompt_encoder

    text = torch.from_numpy(shared_prompt_encoder().embed([cfg.prompt]))  # (1, 384)
    sigmas = karras_sigmas(cfg.steps, cfg.sigma_min, cfg.sigma_max)
    sample = SAMPLERS[SAMPLER_NAMES[cfg.sampler]]
    window = base.cfg.window_frames + WINDOW_SLACK
    hop = max(1, min(window - 1, round(cfg.hop_seconds * sr / spl)))
    windows = 0
    while pos < total:
        # Context: window - hop frames, or more when fewer than hop frames remain.
        start = max(0, min(pos - (window - hop), total - window))
        end = min(total, start + window)
        known = z[:, :, start:end]  # (1, C, T); frames >= pos are zeros and masked out
        mask = torch.zeros(1, 1, end - start)
        mask[..., : pos - start] = 1.0
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + windows)
        x = torch.randn(known.shape, generator=gen) * float(sigmas[0])  # (1, C, T)
        denoise = make_denoiser(base.model, text, known, mask, cfg.guidance, base.cfg.budget)
        x = sample(denoise, x, sigmas)  # (1, C, T)
        z[:, :, pos:end] = x[:, :, pos - start :]
        pos, windows = end, windows + 1
    if not torch.isfinite(z).all():
        raise RuntimeError("the sampler produced non-finite latents")

    audio = codec.decode(z[0].numpy())[:, :n_out]  # (C, N)
    if prefix is not None:  # the given audio verbatim, then a short crossfade into the new part
        n = prefix.shape[1]
        fade = min(CROSSFADE, n)
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)  # 0 = all given audio
        audio[:, n - fade : n] = prefix[:, n - fade :] * (1 - ramp) + audio[:, n - fade : n] * ramp
        audio[:, : n - fade] = prefix[:, : n - fade]
    audio = np.clip(np.nan_to_num(audio), -1.0, 1.0)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(cfg.out, audio.T, sr, subtype="PCM_16")
    wall = time.monotonic() - t0
    return {
        "out": str(cfg.out),
        "seconds": n_out / sr,
        "frames": total,
        "windows": windows,
        "model_step": base.step,
        "wall_s": round(wall, 2),
        "x_realtime": round(n_out / sr / wall, 3),
        "continued_s": None if prefix is None else prefix.shape[1] / sr,
    }
