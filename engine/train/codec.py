"""Train the latent audio codec.

    python -m engine.train codec --data /root/presto-data/corpus \
        --out /root/presto-data/runs/codec --preset cpu [--resume] [--steps N] [--minutes M]

--minutes bounds the wall clock (counted across resumes): the learning-rate decay
follows whichever of steps and minutes is further along, and training stops at either.

A new decoder for the shipped latent space (the one every diffusion model here was
trained in) starts from an imported codec and keeps its encoder fixed:

    python -m engine.train import-codec --model exported/codec --out INIT
    python -m engine.train codec --init INIT --freeze-encoder --cache CACHE \
        --out RUN --preset gpu-decoder --device cuda --minutes 8

With --init the encoder (and the decoder, where the preset's decoder has the same
shape) start from INIT/checkpoint.pt; with --freeze-encoder only the decoder trains and
RUN/latent_stats.json is INIT's, so latents and their normalisation stay exactly as
they were. Without --data, a complete --cache (audio.npy + index.json, as written by a
corpus run or `unpack-audio`) is opened as it is.

RUN gets: checkpoint.pt (atomic, every few minutes), losses.jsonl, losses.png,
config.json, latent_stats.json (per-channel mean/std, after training), train_state.json.
"""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.codec.autoencoder import Autoencoder
from engine.codec.config import DECODER_FIELDS, CodecConfig, TrainConfig, get_preset
from engine.train.audio_cache import AudioCache, build_cache, open_cache
from engine.train.checkpoint import (
    plot_losses,
    read_log,
    save_atomic,
    truncate_log,
    write_json_atomic,
)
from engine.train.device import cpu_state, pick_device

LOSS_KEYS = ["loss", "mel_l1", "stft_sc", "stft_logmag", "latent_rms"]


@dataclass(frozen=True)
class CodecRun:
    data: Path | None  # corpus directory (metadata.jsonl + audio); None: a complete --cache
    out: Path  # run directory
    preset: str = "cpu"
    resume: bool = False
    steps: int | None = None  # overrides the preset's step count
    minutes: float | None = None  # wall-clock budget: stop (and finish the LR decay) by then
    cache: Path | None = None  # audio cache directory (default RUN/cache)
    init: Path | None = None  # codec run to start from (INIT/checkpoint.pt)
    freeze_encoder: bool = False  # train the decoder only (needs init)
    device: str = "cpu"  # "auto", "cpu" or "cuda"
    valid_cache: Path | None = None  # held-out audio cache: validation and RUN/best.pt


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
    device = next(model.parameters()).device
    zs = []
    for _ in range(n // 4):
        x = torch.from_numpy(cache.sample(rng, 4, min(length, int(cache.lengths.max()))))
        x = x[..., : x.shape[-1] // model.cfg.samples_per_latent * model.cfg.samples_per_latent]
        z = model.encode(x.to(device)).cpu()
        zs.append(z.transpose(1, 2).reshape(-1, model.cfg.latent_dim))
    z = torch.cat(zs).double()  # (frames, D)
    return {
        "mean": z.mean(0).tolist(),
        "std": z.std(0).tolist(),
        "global_std": float(z.std()),
        "frames": int(z.shape[0]),
    }


def init_config(preset_cfg: CodecConfig, init_cfg: CodecConfig) -> CodecConfig:
    """INIT's configuration with the preset's decoder: the signal, latent and encoder
    must stay INIT's for its encoder weights to mean anything."""
    return replace(init_cfg, **{k: getattr(preset_cfg, k) for k in DECODER_FIELDS})


def load_init(model: Autoencoder, init_state: dict) -> list[str]:
    """Copy INIT's weights into model: the encoder always, the decoder where every shape
    matches. Returns the parts loaded ("encoder", "decoder")."""
    weights = init_state["model"]
    loaded = []
    for part in ("encoder", "decoder"):
        module = getattr(model, part)
        own = {k[len(part) + 1 :]: v for k, v in weights.items() if k.startswith(part + ".")}
        ref = module.state_dict()
        if own.keys() == ref.keys() and all(own[k].shape == ref[k].shape for k in ref):
            module.load_state_dict(own)
            loaded.append(part)
    if "encoder" not in loaded:
        raise SystemExit("--init: its encoder does not fit this configuration")
    return loaded


def open_audio(run: CodecRun, cfg: CodecConfig, tcfg: TrainConfig) -> AudioCache:
    """The training audio: built from the corpus (a matching cache is reused), or, without
    a corpus, the complete cache at --cache opened as it is."""
    cache_dir = run.cache or run.out / "cache"
    if run.data is not None:
        return build_cache(
            run.data, cache_dir, tcfg.cache_hours, cfg.sample_rate, cfg.channels, tcfg.seed
        )
    if not ((cache_dir / "audio.npy").is_file() and (cache_dir / "index.json").is_file()):
        raise SystemExit(
            f"codec: no --data and no complete audio cache at {cache_dir} (audio.npy + "
            "index.json): pass --data CORPUS, or --cache a directory unpack-audio wrote"
        )
    cache = open_cache(cache_dir)
    if cache.audio.shape[0] != cfg.channels:
        raise SystemExit(
            f"codec: {cache_dir} holds {cache.audio.shape[0]}-channel audio, the codec "
            f"expects {cfg.channels}"
        )
    return cache


def draw_batch(cache: AudioCache, tcfg: TrainConfig, step: int, length: int) -> np.ndarray:
    """The segments of one step, (B, C, length) float32: a function of (seed, step) alone."""
    rng = np.random.default_rng([tcfg.seed, step])
    return cache.sample(rng, tcfg.batch, length)


class Validator:
    """Loss on fixed held-out segments; keeps the weights of the best pass in RUN/best.pt.

    The score is the reconstruction loss without the latent penalty (mel and STFT terms
    as weighted in training) of clean latents, as serving decodes them: no latent noise.
    """

    def __init__(self, cache: AudioCache, tcfg: TrainConfig, length: int, out: Path) -> None:
        rng = np.random.default_rng([tcfg.seed, 999_999])
        self.audio = torch.from_numpy(cache.sample(rng, tcfg.valid_segments, length))
        self.tcfg, self.out = replace(tcfg, latent_noise=0.0, latent_l2=0.0), out
        self.best = math.inf

    @torch.no_grad()
    def __call__(self, model: Autoencoder, step: int, extra: dict) -> dict:
        """One pass: a row for valid.jsonl; writes best.pt when the score improves."""
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        sums: dict[str, float] = {}
        for chunk in self.audio.split(16):
            _, parts = model.loss(chunk.to(device), self.tcfg)
            for k, v in parts.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(chunk)
        model.train(was_training)
        row = {k: round(v / len(self.audio), 5) for k, v in sums.items()}
        row = {"step": step} | row | {"score": row["loss"]}
        if row["score"] < self.best:
            self.best = row["score"]
            save_atomic(extra | {"model": cpu_state(model), "optimizer": None, "step": step,
                                 "valid": row}, self.out / "best.pt")
            row["best"] = True
        with open(self.out / "valid.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        return row


def main(run: CodecRun) -> Path:
    cfg, tcfg = get_preset(run.preset)
    if run.steps is not None:
        tcfg = replace(tcfg, steps=run.steps)
    if run.freeze_encoder and run.init is None and not run.resume:
        raise SystemExit("--freeze-encoder needs --init (the codec whose encoder to keep)")
    run.out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path = run.out / "checkpoint.pt", run.out / "losses.jsonl"
    device = pick_device(run.device)
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)

    state, init_state = None, None
    init, frozen = run.init, run.freeze_encoder
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if state.get("optimizer") is None:
            raise SystemExit(f"{ckpt_path} holds no optimiser state (an imported codec): "
                             "start a new run from it with --init")
        cfg = CodecConfig.from_dict(state["config"])
        tcfg = replace(TrainConfig(**state["train_config"]), steps=tcfg.steps)
        init = Path(state["init"]) if state.get("init") else None
        frozen = bool(state.get("frozen_encoder", False))
    elif ckpt_path.exists():
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    elif init is not None:
        init_ckpt = init / "checkpoint.pt"
        if not init_ckpt.is_file():
            raise SystemExit(f"--init {init}: no checkpoint.pt (import one with import-codec)")
        init_state = torch.load(init_ckpt, map_location="cpu", weights_only=False)
        cfg = init_config(cfg, CodecConfig.from_dict(init_state["config"]))
    if frozen and not (init / "latent_stats.json").is_file():
        raise SystemExit(f"--freeze-encoder: {init}/latent_stats.json is missing; the "
                         "frozen encoder's latent statistics must come from it")

    model = Autoencoder(cfg)
    loaded = load_init(model, init_state) if init_state is not None else []
    if frozen:
        model.encoder.requires_grad_(False)
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=tcfg.lr, weight_decay=tcfg.weight_decay)
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
        {
            "codec": cfg.to_dict(),
            "train": tcfg.to_dict(),
            "preset": run.preset,
            "init": str(init) if init else None,
            "init_loaded": loaded,
            "frozen_encoder": frozen,
            "device": str(device),
        },
        run.out / "config.json",
    )
    if loaded:
        print(f"codec: from {init}: {' and '.join(loaded)} weights"
              + (", encoder frozen" if frozen else ""))

    cache = open_audio(run, cfg, tcfg)
    seg = tcfg.segment_latents * cfg.samples_per_latent
    data = str(run.data.resolve()) if run.data else str(run.cache or run.out / "cache")
    validator = None
    if run.valid_cache is not None:
        validator = Validator(open_cache(run.valid_cache), tcfg, seg, run.out)
        if state is None:
            (run.out / "valid.jsonl").unlink(missing_ok=True)
        elif state.get("best_valid") is not None:
            validator.best = state["best_valid"]

    def checkpoint() -> None:
        save_atomic(
            {
                "config": cfg.to_dict(),
                "train_config": tcfg.to_dict(),
                "model": cpu_state(model),
                "optimizer": opt.state_dict(),
                "step": step,
                "wall_s": wall,
                "torch_rng": torch.get_rng_state(),
                "data": data,
                "init": str(init) if init else None,
                "frozen_encoder": frozen,
                "best_valid": validator.best if validator else None,
            },
            ckpt_path,
        )
        plot_losses(log_path, run.out / "losses.png", LOSS_KEYS)

    model.train()
    if frozen:
        model.encoder.eval()
    last_ckpt = time.monotonic()
    t0 = time.monotonic() - wall
    bar = tqdm(total=tcfg.steps, initial=step, desc="codec", unit="step", dynamic_ncols=True)
    ahead = ThreadPoolExecutor(max_workers=1)  # draws the next batch while this one trains
    upcoming = ahead.submit(draw_batch, cache, tcfg, step, seg)
    with open(log_path, "a") as log:
        while progress(step, wall, tcfg, run.minutes) < 1.0:
            x = torch.from_numpy(upcoming.result()).to(device)  # (B, C, N)
            upcoming = ahead.submit(draw_batch, cache, tcfg, step + 1, seg)
            lr = lr_at(step, progress(step, wall, tcfg, run.minutes), tcfg)
            for g in opt.param_groups:
                g["lr"] = lr
            loss, parts = model.loss(x, tcfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            step += 1
            wall = time.monotonic() - t0
            bar.update(1)
            if step % tcfg.log_every == 0 or progress(step, wall, tcfg, run.minutes) >= 1.0:
                values = {k: float(v) for k, v in parts.items()}  # one device sync per log line
                bar.set_postfix(mel=f"{values['mel_l1']:.3f}", sc=f"{values['stft_sc']:.3f}")
                row = {"step": step, "wall_s": round(wall, 1), "lr": lr}
                row |= {k: round(v, 5) for k, v in values.items()} | {"grad": float(gnorm)}
                log.write(json.dumps(row) + "\n")
                log.flush()
            if validator and (step % tcfg.valid_every == 0
                              or progress(step, wall, tcfg, run.minutes) >= 1.0):
                v = validator(model, step, {"config": cfg.to_dict(), "wall_s": wall,
                                            "train_config": tcfg.to_dict()})
                tqdm.write(f"valid @ {step}: score {v['score']:.4f} mel {v['mel_l1']:.4f}"
                           + (" (best)" if v.get("best") else ""))
                if frozen:  # the pass put every module back in training mode
                    model.encoder.eval()
            if time.monotonic() - last_ckpt > tcfg.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
    ahead.shutdown(wait=True)
    bar.close()
    checkpoint()

    model.eval()
    if frozen:
        stats = json.loads((init / "latent_stats.json").read_text()) | {"from_init": str(init)}
    else:
        stats = latent_stats(model, cache)
    write_json_atomic(stats, run.out / "latent_stats.json")
    rows = read_log(log_path)
    tail = rows[-10:]
    final = {k: float(np.mean([r[k] for r in tail])) for k in LOSS_KEYS} if tail else {}
    write_json_atomic(
        {
            "data": data,
            "preset": run.preset,
            "steps": step,
            "wall_s": round(wall, 1),
            "final_losses": final,
            "cache_hours": round(float(cache.lengths.sum()) / cfg.sample_rate / 3600, 3),
            "init": str(init) if init else None,
            "frozen_encoder": frozen,
            "device": str(device),
            "best_valid": validator.best if validator else None,
        },
        run.out / "train_state.json",
    )
    return run.out
