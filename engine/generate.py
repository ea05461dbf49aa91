"""Offline generation with a served model (onnxruntime, no torch).

    python run_engine.py generate --prompt "a slow chorale for strings" --seconds 32 \
        --out chorale.wav [--model exported/presto-s] [--steps N] [--guidance G] \
        [--budget B] [--seed S] [--continue intro.wav [--context-guidance W]
        [--context-min-sigma S]] [--json]

prompt -> MiniLM embedding; Gaussian noise; the model's sampler (EDM ODE with
classifier-free guidance for a base model, the Presto-S few-step loop for a
distilled one) with the layer budget; the codec decodes the latents to 44.1 kHz.
With --continue the given audio is encoded, its frames become the known prefix
(network input and pasted into every x0 estimate) and the output starts with that
audio verbatim; --context-guidance W also runs each evaluation without the context and
extrapolates away from it, and --context-min-sigma S gives the network the context inputs
only at noise levels >= S (engine.runtime.window). Outputs longer than the model's
window are generated window by window, each new window keeping the previous
`window - hop` frames as its known context: the same sliding window the live engine runs.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from engine.latent_codec import read_audio
from engine.runtime.model import ServedModel
from engine.runtime.window import plan_window, sample_window

EXPORTED = Path(__file__).resolve().parents[1] / "exported"
CROSSFADE = 2048  # samples of linear crossfade from the given audio into the generated audio
# Frames a window may exceed the training window by: "32 s" is 690 frames (the last one
# partial) while 32 s clips train on 688; rotary positions extrapolate that far harmlessly,
# and one window is half the cost of two.
WINDOW_SLACK = 4
MAX_SECONDS = 600.0


# The served default, best first: the distilled model with layer budgets, the distilled
# model, the teacher (whose guided multi-step sampling the live governor scales down).
DEFAULT_ORDER = ("presto-ls", "presto-s", "base")


def default_model(root: Path = EXPORTED) -> Path:
    """The first of DEFAULT_ORDER shipped under root (root/presto-ls if none is)."""
    for name in DEFAULT_ORDER:
        if (root / name / "manifest.json").is_file():
            return root / name
    return root / DEFAULT_ORDER[0]


@dataclass(frozen=True)
class GenerateConfig:
    prompt: str
    out: Path  # WAV file to write
    seconds: float = 32.0  # total output length, the continued audio included
    model: Path | None = None  # exported model dir; None = default_model()
    steps: int | None = None  # None: the model's default
    guidance: float | None = None  # diffusion models only; None: the model's default
    budget: float | None = None  # layer budget in [0, 1]; None: the model's default
    seed: int = 0
    sampler: str | None = None  # diffusion models: heun | euler | dpmpp_2m
    continue_from: Path | None = None  # audio to continue (the output starts with it)
    context_guidance: float = 0.0  # extrapolate away from the no-context pass (0: off)
    context_min_sigma: float = 0.0  # the context inputs only at sigma >= this (0: always)
    hop_seconds: float = 8.0  # new audio per window once the output exceeds one window
    device: str = "auto"  # auto | cpu | cuda
    decoder: str = "auto"  # codec decoder: auto (int8 on the CPU when shipped) | float | int8
    threads: int = 0  # onnxruntime intra-op threads; 0 = this machine's cores


def check_prompt(model: ServedModel, prompt: str) -> str:
    """The prompt stripped; ValueError if empty; a warning if the encoder truncates it."""
    prompt = prompt.strip()
    if not prompt:
        raise ValueError("the prompt is empty: describe the music, e.g. --prompt "
                         "\"a slow chorale for strings\"")
    if model.text.tokenizer.encode(prompt).overflowing:
        warnings.warn(f"the prompt is longer than the text encoder's {model.text.max_length} "
                      "tokens: only its beginning is used", stacklevel=2)
    return prompt


def read_prefix(path: Path, model: ServedModel) -> np.ndarray:
    """The audio to continue, (C, N) at the model's rate; ValueError if unusable."""
    audio = read_audio(path, model.sample_rate, model.channels)
    if audio.shape[1] < model.samples_per_latent:
        raise ValueError(f"{path} is too short to continue: at least "
                         f"{model.samples_per_latent / model.sample_rate:.3f} s are needed")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{path} holds non-finite samples")
    return audio


def generate(cfg: GenerateConfig, model: ServedModel | None = None) -> dict:
    """Render cfg.seconds of audio to cfg.out; returns what was done and how fast."""
    if not 0.0 < cfg.seconds <= MAX_SECONDS:
        raise ValueError(f"--seconds must be in (0, {MAX_SECONDS:g}], got {cfg.seconds:g}")
    if cfg.hop_seconds <= 0:
        raise ValueError(f"hop_seconds must be > 0, got {cfg.hop_seconds}")
    if model is None:
        threads = cfg.threads or len(os.sched_getaffinity(0))
        model = ServedModel.load(cfg.model or default_model(), device=cfg.device,
                                 threads=threads, decoder=cfg.decoder)
    prompt = check_prompt(model, cfg.prompt)
    plan = plan_window(model, steps=cfg.steps, budget=cfg.budget, guidance=cfg.guidance,
                       sampler=cfg.sampler, context_guidance=cfg.context_guidance,
                       context_min_sigma=cfg.context_min_sigma)
    prefix = read_prefix(cfg.continue_from, model) if cfg.continue_from else None
    t0 = time.perf_counter()
    sr, spl, c = model.sample_rate, model.samples_per_latent, model.latent_channels
    n_out = int(round(cfg.seconds * sr))
    total = math.ceil(n_out / spl)  # latent frames to produce
    z = np.zeros((c, total), dtype=np.float32)  # normalised latents
    pos = 0  # frames already known
    if prefix is not None:
        if prefix.shape[1] >= n_out:
            raise ValueError(f"--seconds {cfg.seconds:g} must exceed the length of the audio "
                             f"to continue ({prefix.shape[1] / sr:.2f} s)")
        known = model.codec.normalize(model.codec.encode(prefix[None]))[0]  # (C, K)
        pos = known.shape[1]
        z[:, :pos] = known
    text = model.text.embed([prompt])[0]  # (384,)
    t_text = time.perf_counter() - t0
    window = model.window_frames + WINDOW_SLACK
    hop = max(1, min(window - 1, round(cfg.hop_seconds * sr / spl)))
    windows, evaluations = 0, []
    t_gen = time.perf_counter()
    while pos < total:
        # Context: window - hop frames, or more when fewer than hop frames remain.
        start = max(0, min(pos - (window - hop), total - window))
        end = min(total, start + window)
        result = sample_window(model, plan, text, z[:, start:end], pos - start,
                               seed=cfg.seed * 1_000_003 + windows)
        z[:, pos:end] = result.latent[:, pos - start:]
        evaluations += result.evaluations
        pos, windows = end, windows + 1
    t_sample = time.perf_counter() - t_gen
    t_dec = time.perf_counter()
    audio = model.codec.decode(model.codec.denormalize(z[None]))[0][:, :n_out]  # (C, N)
    t_decode = time.perf_counter() - t_dec
    if prefix is not None:  # the given audio verbatim, then a short crossfade into the new part
        n = prefix.shape[1]
        fade = min(CROSSFADE, n)
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)  # 0 = all given audio
        audio[:, n - fade:n] = prefix[:, n - fade:] * (1 - ramp) + audio[:, n - fade:n] * ramp
        audio[:, :n - fade] = prefix[:, :n - fade]
    audio = np.clip(np.nan_to_num(audio), -1.0, 1.0)
    generate_seconds = time.perf_counter() - t0
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(cfg.out, audio.T, sr, subtype="PCM_16")
    return {
        "out": str(cfg.out),
        "model": model.name,
        "mode": plan.mode,
        "audio_seconds": n_out / sr,
        "load_seconds": round(model.load_seconds, 3),
        "generate_seconds": round(generate_seconds, 3),
        "x_realtime": round(n_out / sr / generate_seconds, 2),
        "text_seconds": round(t_text, 4),
        "sample_seconds": round(t_sample, 3),
        "decode_seconds": round(t_decode, 3),
        "steps": plan.steps,
        "evaluations": len(evaluations),
        "budget": plan.budget,
        "blocks_per_evaluation": round(
            sum(k for _, k, _ in evaluations) / max(1, len(evaluations)), 2),
        "guidance": plan.guidance,
        "context_guidance": plan.context_guidance,
        "context_min_sigma": plan.context_min_sigma,
        "seed": cfg.seed,
        "windows": windows,
        "provider": model.provider,
        "decoder": model.codec.decoder_precision,
        "continued_seconds": None if prefix is None else prefix.shape[1] / sr,
    }
