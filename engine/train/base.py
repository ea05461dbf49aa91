"""Train the base model: a DiT under EDM on cached codec latents (DESIGN section 5).

    python -m engine.train base --data /root/presto-data/corpus \
        --codec /root/presto-data/runs/codec --out /root/presto-data/runs/base \
        --preset tiny [--resume] [--steps N] [--minutes M] [--cache-only] [--init RUN]
    torchrun --nproc_per_node 2 -m engine.train base ...   # DistributedDataParallel, gloo
    python -m engine.train base --cache LATENTS --codec exported/codec --out RUN \
        --preset gpu --device cuda --minutes 8      # no corpus: a complete, carried cache

RUN gets: latents/ (the latent cache, unless --cache DIR), checkpoint.pt (atomic, every
few minutes: model, EMA, optimiser, step, RNG), losses.jsonl/.png, valid.jsonl/.png
(EMA weights at fixed sigmas on the valid split), config.json, train_state.json.

Each sample is a random window of up to 32 s; about half get a known prefix of
random length (the loss skips those frames), captions are replaced by the null
embedding with p = 0.1 for classifier-free guidance, and the budget is 1 (all
layers). The batch for a step depends only on (seed, step, rank), so a resumed
run draws exactly the batches an uninterrupted one would have. --minutes bounds the
wall clock (counted across resumes): the learning-rate decay follows whichever of
steps and minutes is further along, and training stops at either.

On CUDA (`--device`, engine.train.device) the forward and loss run under bf16
autocast, a background thread draws the next batch while the GPU works on this one,
and checkpoints hold host-memory tensors, so a run trained on an accelerator is
exported, judged and distilled on a CPU machine like any other.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from engine.edm.loss import EDMLoss
from engine.edm.precond import EDMPrecond
from engine.model.dit import DiT
from engine.train.base_config import BaseTrainConfig, get_preset
from engine.train.base_eval import plot_validation, validate
from engine.train.checkpoint import (
    plot_losses,
    read_log,
    save_atomic,
    truncate_log,
    write_json_atomic,
)
from engine.train.device import autocast, cpu_state, pick_device
from engine.train.distributed import init_distributed
from engine.train.latent_cache import (
    LatentCache,
    build_latent_cache,
    latent_stats_digest,
    open_latent_cache,
)
from engine.train.warm_start import warm_start

LOSS_KEYS = ["loss", "grad", "lr", "window"]


@dataclass(frozen=True)
class BaseRun:
    data: Path | None  # corpus directory (metadata.jsonl + audio); None: `cache` is complete
    codec: Path  # codec training run (checkpoint.pt + latent_stats.json) or exported dir
    out: Path  # run directory
    preset: str = "tiny"
    resume: bool = False
    steps: int | None = None  # overrides the preset's step count
    cache: Path | None = None  # latent cache directory (default OUT/latents)
    cache_only: bool = False  # build the latent cache, then stop
    minutes: float | None = None  # wall-clock budget: stop (and finish the LR decay) by then
    threads: int | None = None  # torch threads (default: the preset's, else cores / ranks)
    init: Path | None = None  # start from this base run's EMA weights (engine.train.warm_start)
    device: str = "auto"  # "auto", "cpu" or "cuda" (engine.train.device)


def progress(step: int, wall_s: float, cfg: BaseTrainConfig, minutes: float | None) -> float:
    """Fraction of the run done: by steps, or by wall clock when that is further along."""
    by_steps = step / max(1, cfg.steps)
    return max(by_steps, wall_s / (60 * minutes)) if minutes else by_steps


def lr_at(step: int, done: float, cfg: BaseTrainConfig) -> float:
    """Linear warm-up over the first steps, then cosine decay to lr * lr_final as done -> 1."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, max(0.0, done))
    return cfg.lr * (cfg.lr_final + (1.0 - cfg.lr_final) * 0.5 * (1.0 + math.cos(math.pi * t)))


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float, step: int) -> None:
    """ema <- decay * ema + (1 - decay) * model, with a short warm-up of the decay."""
    d = min(decay, (1.0 + step) / (10.0 + step))
    e, m = list(ema.parameters()), list(model.parameters())
    torch._foreach_lerp_(e, m, 1.0 - d)


def step_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1, np.uint64)[0] >> 1)


def prefix_mask(
    rng: np.random.Generator, batch: int, frames: int, cfg: BaseTrainConfig
) -> np.ndarray:
    """(B, 1, T) float32, 1 = known: a random-length prefix for about prefix_p of the rows."""
    mask = np.zeros((batch, 1, frames), dtype=np.float32)
    longest = frames - cfg.min_new_frames
    for i in range(batch):
        if longest >= 1 and rng.random() < cfg.prefix_p:
            mask[i, :, : rng.integers(1, longest + 1)] = 1.0
    return mask


def draw_batch(
    cache: LatentCache, cfg: BaseTrainConfig, step: int, rank: int, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training batch of one step and rank: x0 (B, D, T), text (B, 384), mask (B, 1, T).

    A function of (seed, step, rank) alone, so a resumed run, or one whose batches are
    drawn ahead on another thread, trains on exactly the batches of an uninterrupted one.
    """
    rng = np.random.default_rng([cfg.seed, step, rank])
    x0, text = cache.sample(rng, "train", batch, cfg.window_frames, cfg.dit.patch,
                            cfg.bucket_frames)
    return x0, text, prefix_mask(rng, batch, x0.shape[2], cfg)


def open_cache(run: BaseRun, cache_dir: Path) -> LatentCache:
    """The latent cache: built from the corpus (resuming; a complete one just opens), or,
    without a corpus, opened as it is."""
    if run.data is None:
        try:
            return open_latent_cache(cache_dir)
        except (OSError, ValueError) as e:
            raise SystemExit(f"--cache {cache_dir}: without --data it must hold a complete "
                             f"latent cache ({e})") from None
    return build_latent_cache(run.data, run.codec, cache_dir)


def main(run: BaseRun) -> Path:
    env = init_distributed()
    cfg = get_preset(run.preset)
    if run.steps is not None:
        cfg = replace(cfg, steps=run.steps)
    run.out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path, val_path = (
        run.out / n for n in ("checkpoint.pt", "losses.jsonl", "valid.jsonl")
    )
    threads = run.threads or cfg.threads or max(1, len(os.sched_getaffinity(0)) // env.local_world)
    torch.set_num_threads(threads)
    device = pick_device(run.device)
    if device.type != "cpu" and env.world > 1:
        raise SystemExit("--device cuda with torchrun is not supported yet: one GPU process")

    state = None
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state.get("slim"):
            raise SystemExit(f"{ckpt_path} is an EMA-only (slim) checkpoint: it cannot be "
                             "resumed; start a new run from its weights with --init")
        cfg = replace(BaseTrainConfig.from_dict(state["train_config"]), steps=cfg.steps)
    elif ckpt_path.exists():
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    codec_stats = latent_stats_digest(run.codec)
    if state is not None and state.get("codec_stats") not in (None, codec_stats):
        raise SystemExit(f"{ckpt_path} was trained on another codec's latents than {run.codec}")

    cache_dir = run.cache or run.out / "latents"
    if run.data is None and run.cache is None:
        raise SystemExit("give --data (the corpus the latents are cached from) or --cache "
                         "(a complete latent cache)")
    if env.main:
        cache = open_cache(run, cache_dir)
    if env.world > 1:
        dist.barrier()
    if not env.main:
        cache = open_cache(run, cache_dir)  # rank 0 has built it
    if run.cache_only:
        return run.out
    latent_dim = int(cache.index["latent_dim"])
    if cfg.sigma_data is None:
        cfg = replace(cfg, sigma_data=round(cache.sigma_data, 4))
    if cfg.dit.latent_channels != latent_dim:
        cfg = replace(cfg, dit=replace(cfg.dit, latent_channels=latent_dim))
    if cfg.batch % env.world:
        raise SystemExit(f"batch {cfg.batch} does not split across {env.world} ranks")
    local_batch = cfg.batch // env.world

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = EDMPrecond(DiT(cfg.dit), cfg.sigma_data)
    init = None
    if run.init is not None and state is None:
        model, cfg, init = warm_start(run.init, cfg, codec_stats)
    model.to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
    )
    meta = {
        "data": str(run.data.resolve()) if run.data is not None else None,
        "codec": str(run.codec.resolve()),
        "codec_stats": codec_stats,
        "cache": str(cache_dir.resolve()),
        "preset": run.preset,
        "init": init if state is None else state.get("init"),
    }
    step, wall = 0, 0.0
    if state is not None:
        model.net.load_state_dict(state["model"])
        ema.net.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step, wall = state["step"], state["wall_s"]
        torch.set_rng_state(state["torch_rng"])
        if env.main:
            truncate_log(log_path, step)
            truncate_log(val_path, step)
    elif env.main:
        for path in (log_path, val_path):
            path.unlink(missing_ok=True)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if env.world > 1 else model
    if env.main:
        write_json_atomic(
            {
                "train": cfg.to_dict(),
                "world_size": env.world,
                "threads": threads,
                "device": str(device),
                "latent_rate_hz": cache.index["latent_rate_hz"],
                **meta,
            },
            run.out / "config.json",
        )

    def checkpoint() -> None:
        save_atomic(
            {
                "train_config": cfg.to_dict(),
                "model": cpu_state(model.net),
                "ema": cpu_state(ema.net),
                "optimizer": opt.state_dict(),
                "step": step,
                "wall_s": wall,
                "torch_rng": torch.get_rng_state(),
                "sigma_data": cfg.sigma_data,
                "world_size": env.world,
                **meta,
            },
            ckpt_path,
        )
        plot_losses(log_path, run.out / "losses.png", LOSS_KEYS)
        plot_validation(val_path, run.out / "valid.png")

    loss_fn = EDMLoss(cfg.p_mean, cfg.p_std, cfg.sigma_data)
    model.train()
    last_ckpt, t0 = time.monotonic(), time.monotonic() - wall
    t_log, acc = time.monotonic(), []
    bar = tqdm(
        total=cfg.steps,
        initial=step,
        desc="base",
        unit="step",
        dynamic_ncols=True,
        disable=not env.main,
    )
    log = open(log_path, "a") if env.main else None

    def shared_progress() -> float:
        """Rank 0's progress, so that every rank uses the same LR and stops at the same step."""
        done = torch.tensor([progress(step, time.monotonic() - t0, cfg, run.minutes)])
        if env.world > 1:
            dist.broadcast(done, 0)
        return float(done)

    done = shared_progress()
    ahead = ThreadPoolExecutor(max_workers=1)  # draws the next batch while this one trains
    upcoming = ahead.submit(draw_batch, cache, cfg, step, env.rank, local_batch)
    while done < 1.0:
        batch = upcoming.result()
        upcoming = ahead.submit(draw_batch, cache, cfg, step + 1, env.rank, local_batch)
        gen = torch.Generator(device).manual_seed(step_seed(cfg.seed, step, env.rank))
        x0, text, mask = (torch.from_numpy(a).to(device) for a in batch)
        # x0 (B, D, T), text (B, 384), mask (B, 1, T)
        text = model.net.drop_text(text, cfg.text_dropout, generator=gen)
        budget = torch.full((local_batch,), cfg.budget, device=device)

        def denoise(x, sigma, text=text, budget=budget, known=x0, mask=mask):
            return ddp(x, sigma, text_emb=text, budget=budget, known=known, mask=mask)

        lr = lr_at(step, done, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast(device):
            loss = loss_fn(denoise, x0, mask=mask, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        ema_update(ema, model, cfg.ema_decay, step)
        step += 1
        acc.append((loss.item(), float(gnorm), x0.shape[2]))
        bar.update(1)
        bar.set_postfix(loss=f"{acc[-1][0]:.3f}", T=x0.shape[2])
        done = shared_progress()
        if step % cfg.log_every == 0 or done >= 1.0:
            mean = torch.tensor([np.mean([a[0] for a in acc])], dtype=torch.float64)
            if env.world > 1:
                dist.all_reduce(mean)
                mean /= env.world
            if env.main:
                now = time.monotonic()
                row = {
                    "step": step,
                    "wall_s": round(now - t0, 1),
                    "lr": lr,
                    "loss": round(float(mean), 5),
                    "grad": round(float(np.mean([a[1] for a in acc])), 4),
                    "window": float(np.mean([a[2] for a in acc])),
                    "s_per_step": round((now - t_log) / len(acc), 3),
                }
                log.write(json.dumps(row) + "\n")
                log.flush()
            t_log, acc = time.monotonic(), []
        wall = time.monotonic() - t0
        if env.main and (step % cfg.val_every == 0 or done >= 1.0):
            row = {"step": step, "wall_s": round(wall, 1), **validate(ema, cache, cfg)}
            with open(val_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix(val=f"{row['val_loss']:.3f}")
        if env.main and time.monotonic() - last_ckpt > cfg.ckpt_minutes * 60:
            checkpoint()
            last_ckpt = time.monotonic()
    bar.close()
    ahead.shutdown(cancel_futures=True)
    if env.main:
        log.close()
        checkpoint()
        tail = read_log(log_path)[-10:]
        val = read_log(val_path)
        write_json_atomic(
            {
                "steps": step,
                "wall_s": round(wall, 1),
                "final_loss": float(np.mean([r["loss"] for r in tail])) if tail else None,
                "final_val": val[-1] if val else None,
                "sigma_data": cfg.sigma_data,
                "world_size": env.world,
                **meta,
            },
            run.out / "train_state.json",
        )
    if env.world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return run.out
