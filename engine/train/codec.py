"""Train the latent audio codec.

    python -m engine.train codec --data /root/presto-data/corpus \
        --out /root/presto-data/runs/codec --preset cpu [--resume] [--steps N] [--minutes M]

--minutes bounds the wall clock (counted across resumes): the learning-rate decay
follows whichever of steps and minutes is further along, and training stops at either.

RUN gets: checkpoint.pt (atomic, every few minutes), losses.jsonl, losses.png,
config.json, latent_stats.json (per-channel mean/std, after training), train_state.json.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import CodecConfig, TrainConfig, get_preset
from engine.train.audio_cache import AudioCache, build_cache
from engine.train.checkpoint import (
    plot_losses,
    read_log,
    save_atomic,
    truncate_log,
    write_json_atomic,
)

LOSS_KEYS = ["loss", "mel_l1", "stft_sc", "stft_logmag", "latent_rms"]


@dataclass(frozen=True)
class CodecRun:
    data: Path  # corpus directory (metadata.jsonl + audio)
    out: Path  # run directory
    preset: str = "cpu"
    resume: bool = False
    steps: int | None = None  # overrides the preset's step count
    minutes: float | None = None  # wall-clock budget: stop (and finish the LR decay) by then


def progress(step: int, wall_s: float, tcfg: TrainConfig, minutes: float | None) -> float:
    """Fraction of the run done: by steps, or by wall clock when that is further along."""
    by_steps = step / max(1, tcfg.steps)
    return max(by_steps, wall_s / (60 * minutes)) if minutes else by_steps


def lr_at(step: int, done: float, tcfg: TrainConfig) -> float:
    """Linear warmup over the first steps, then cosine decay to lr / 20 as ``done`` -> 1."""
    if step < tcfg.warmup:
        return tcfg.lr * (step + 1) / tcfg.warmup
    t = min(1.0, max(0.0, done))
    return tcfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * t)))


@torch.no_grad()
def latent_stats(
    model: Autoencoder, cache: AudioCache, n: int = 32, latents: int = 160, seed: int = 1
) -> dict:
    """Per-channel mean and std of the latent over n random segments of training audio."""
    rng = np.random.default_rng(seed)
    length = latents * model.cfg.samples_per_latent
    zs = []
    for _ in range(n // 4):
        x = torch.from_numpy(cache.sample(rng, 4, min(length, int(cache.lengths.max()))))
        x = x[..., : x.shape[-1] // model.cfg.samples_per_latent * model.cfg.samples_per_latent]
        zs.append(model.encode(x).transpose(1, 2).reshape(-1, model.cfg.latent_dim))
    z = torch.cat(zs).double()  # (frames, D)
    return {
        "mean": z.mean(0).tolist(),
        "std": z.std(0).tolist(),
        "global_std": float(z.std()),
        "frames": int(z.shape[0]),
    }


def main(run: CodecRun) -> Path:
    cfg, tcfg = get_preset(run.preset)
    if run.steps is not None:
        tcfg = replace(tcfg, steps=run.steps)
    run.out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = run.out / "checkpoint.pt", run.out / "losses.jsonl"
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)

    state = None
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = CodecConfig.from_dict(state["config"])
        tcfg = replace(TrainConfig(**state["train_config"]), steps=tcfg.steps)
    elif ckpt_path.exists():
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")

    model = Autoencoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    step, wall = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, wall = state["step"], state["wall_s"]
        torch.set_rng_state(state["torch_rng"])
        truncate_log(log_path, step)
    elif log_path.exists():
        log_path.unlink()
    write_json_atomic(
        {"codec": cfg.to_dict(), "train": tcfg.to_dict(), "preset": run.preset},
        run.out / "config.json",
    )

    cache = build_cache(
        run.data, run.out / "cache", tcfg.cache_hours, cfg.sample_rate, cfg.channels, tcfg.seed
    )
    seg = tcfg.segment_latents * cfg.samples_per_latent

    def checkpoint() -> None:
        save_atomic(
            {
                "config": cfg.to_dict(),
                "train_config": tcfg.to_dict(),
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "step": step,
                "wall_s": wall,
                "torch_rng": torch.get_rng_state(),
                "data": str(run.data.resolve()),
            },
            ckpt_path,
        )
        plot_losses(log_path, run.out / "losses.png", LOSS_KEYS)

    model.train()
    last_ckpt = time.monotonic()
    t0 = time.monotonic() - wall
    bar = tqdm(total=tcfg.steps, initial=step, desc="codec", unit="step", dynamic_ncols=True)
    with open(log_path, "a") as log:
        while progress(step, wall, tcfg, run.minutes) < 1.0:
            rng = np.random.default_rng([tcfg.seed, step])  # batch depends only on the step
            x = torch.from_numpy(cache.sample(rng, tcfg.batch, seg))  # (B, C, N)
            lr = lr_at(step, progress(step, wall, tcfg, run.minutes), tcfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss, parts = model.loss(x, tcfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            wall = time.monotonic() - t0
            bar.update(1)
            bar.set_postfix(mel=f"{parts['mel_l1']:.3f}", sc=f"{parts['stft_sc']:.3f}")
            if step % tcfg.log_every == 0 or progress(step, wall, tcfg, run.minutes) >= 1.0:
                row = {"step": step, "wall_s": round(wall, 1), "lr": lr}
                row |= {k: round(v, 5) for k, v in parts.items()} | {"grad": float(gnorm)}
                log.write(json.dumps(row) + "\n")
                log.flush()
            if time.monotonic() - last_ckpt > tcfg.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
    bar.close()
    checkpoint()

    model.eval()
    stats = latent_stats(model, cache)
    write_json_atomic(stats, run.out / "latent_stats.json")
    rows = read_log(log_path)
    tail = rows[-10:]
    final = {k: float(np.mean([r[k] for r in tail])) for k in LOSS_KEYS} if tail else {}
    write_json_atomic(
        {
            "data": str(run.data.resolve()),
            "preset": run.preset,
            "steps": step,
            "wall_s": round(wall, 1),
            "final_losses": final,
            "cache_hours": tcfg.cache_hours,
        },
        run.out / "train_state.json",
    )
    return run.out
