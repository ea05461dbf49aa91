"""Presto-L: fine-tune the base model to run fewer blocks at high noise (DESIGN section 6).

    python -m engine.train presto-l --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/presto-l [--resume] [--steps N] [--minutes M]
    python -m engine.train presto-l --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/ase --baseline ase     # the early-exit baseline

Student and teacher both start as the base run's EMA weights; the teacher stays
frozen at full depth and budget 1. Per sample: sigma from the base run's
log-normal, budget b = 1 with probability p_full, else b ~ U[b_min, 1],
k = LayerSchedule.blocks(sigma, b); the student runs k blocks (reroute, or plain
early exit with --baseline ase) with b as its budget input, all k in one ragged
pass (`ragged_forward`). Loss:

    L = denoise * mean_u[w(sigma) |D_k(x) - x0|^2]
        + self_teacher * mean_u[w(sigma) |D_k(x) - D_T(x)|^2]
        + guided_teacher * mean_u,kept[w(sigma) |G_k(x) - G_T(x)|^2] / g^2

where G = D(x; null) + g (D(x; text) - D(x; null)) is the guided output at the CFG weight
g (`guidance`), over the rows whose text was not dropped; the last term is off (weight 0)
unless the preset or `--guided-teacher` turns it on. Dividing by g^2 puts it on the scale
of the other two (G's error is about g times a branch's). The denoising weight is 1 unless
`--denoise` sets it: at 0 the fine-tune is pure distillation from the frozen teacher, so a
full-budget row starts at zero loss and stays there (the data term's batch-8 gradient noise
is what moved the full-depth student away from the teacher, docs/presto_l.md).

with w = (sigma^2 + sd^2) / (sigma sd)^2, the EDM weight, for both terms: it is
1 / c_out^2, so each term is a plain MSE between network outputs F in their
unit-variance space and the two terms are on the same scale at every sigma.
mean_u averages over unknown frames only (the known prefix is skipped, as in the
base loss). Text dropout and known prefixes are drawn as in base training (same
rates, from the teacher's config); dropped rows get each network's own learned
null embedding.

RUN gets checkpoint.pt in the base format (train_config with the student's DiT
config, exit_mode included; model; ema; optimizer; ...; plus presto_l and
schedule), so engine.train.teacher.load_base reads it; losses.jsonl/.png, valid.jsonl/
.png (EMA student, fixed sigmas x budgets), config.json, train_state.json.
"""

from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from engine.edm.precond import EDMPrecond, edm_coefficients
from engine.model.dit import DiT
from engine.model.layer_schedule import LayerSchedule
from engine.train.base import ema_update, lr_at, prefix_mask, progress, step_seed
from engine.train.base_config import BaseTrainConfig
from engine.train.checkpoint import (
    mean_log_row,
    plot_losses,
    read_log,
    save_atomic,
    truncate_log,
    write_json_atomic,
)
from engine.train.device import autocast, cpu_state, pick_device
from engine.train.latent_cache import LatentCache, open_latent_cache
from engine.train.presto_l_config import PrestoLConfig, get_preset
from engine.train.teacher import latent_cache_dir

LOSS_KEYS = ["loss", "denoise", "self_teacher", "guided", "blocks", "grad", "lr"]
BASELINES = {None: "reroute", "ase": "early_exit"}


@dataclass(frozen=True)
class PrestoLRun:
    teacher: Path  # base training run (checkpoint.pt with EMA weights)
    out: Path  # run directory
    preset: str = "tiny"
    resume: bool = False
    steps: int | None = None  # overrides the preset's step count
    baseline: str | None = None  # None: Presto-L reroute; "ase": plain early exit
    cache: Path | None = None  # latent cache dir (default: the teacher's)
    minutes: float | None = None  # wall-clock budget: stop (and finish the LR decay) by then
    threads: int | None = None  # torch threads (default: the preset's, else all cores)
    device: str = "auto"  # "auto", "cpu" or "cuda" (engine.train.device)
    init: Path | None = None  # a Presto-L run of the same teacher whose EMA weights start this
    guided_teacher: float | None = None  # guided self-teacher weight (default: the preset's)
    lr: float | None = None  # peak learning rate (default: the preset's)
    denoise: float | None = None  # denoising-loss weight (default: the preset's, 1)
    # ranked Presto-L: a JSON drop order (engine.train block-order) whose least important
    # blocks are dropped first instead of the reroute's blocks k-1..depth-2
    drop_order: Path | None = None


def read_drop_order(path: Path) -> tuple:
    """The drop order in an engine.train block-order JSON file; SystemExit if unusable."""
    try:
        return tuple(tuple(band) for band in json.loads(Path(path).read_text())["drop_order"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"--drop-order {path}: not a block-order file ({e}); make one with "
                         "python -m engine.train block-order") from None


def load_teacher(run_dir: Path) -> tuple[EDMPrecond, dict]:
    """The base run's EMA denoiser (eval, frozen) and its checkpoint dict (weights dropped)."""
    path = Path(run_dir) / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: train a base model first "
                                "(python -m engine.train base ...)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    cfg = BaseTrainConfig.from_dict(state["train_config"])
    model = EDMPrecond(DiT(cfg.dit), state["sigma_data"])
    model.net.load_state_dict(state["ema"])
    meta = {k: v for k, v in state.items() if k not in ("model", "ema", "optimizer", "torch_rng")}
    return model.eval().requires_grad_(False), meta


def masked_mean(err: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of err (B, C, T) over frames where mask (B, 1, T) is 0."""
    unknown = (1.0 - mask).expand_as(err)  # (B, C, T)
    return (err * unknown).sum() / unknown.sum().clamp_min(1.0)


def routed_forward(model: EDMPrecond, x: torch.Tensor, sigma: torch.Tensor,
                   routes: list[list[int]], text_emb: torch.Tensor, budget: torch.Tensor,
                   known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """D(x, sigma) (B, C, T) with row r through the blocks routes[r] only (network order);
    x, known (B, C, T), sigma, budget (B,), text_emb (B, 384), mask (B, 1, T)."""
    net = model.net
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma.to(x.dtype), model.sigma_data)
    h, c, c_final = net.embed(x * c_in[:, None, None], c_noise, text_emb, budget, known,
                              mask)  # (B, L, D), (B, D), (B, D)
    cos, sin = net.rope(h)  # (L, Dh/2) each
    h = net.run_blocks(h, c, cos, sin, routes)  # (B, L, D)
    f = net.head(h, c_final, x.shape[2])  # (B, C, T)
    return x * c_skip[:, None, None] + f * c_out[:, None, None]


def ragged_forward(model: EDMPrecond, x: torch.Tensor, sigma: torch.Tensor, k: np.ndarray,
                   text_emb: torch.Tensor, budget: torch.Tensor, known: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
    """D(x, sigma) (B, C, T) with sample i at k[i] blocks, in one pass over the blocks.

    Every route is a prefix of one block sequence plus a fixed tail (reroute: blocks
    0, 1, .. then the last block; early exit: blocks 0, 1, .. and no tail). With the
    batch sorted by k, descending, the samples still running block i are a prefix of
    the batch, so block i runs on h[:n_i]: each sample costs its own k blocks and the
    early blocks still see the batch together (a sub-batch per k is ~60% slower on CPU).
    """
    net = model.net
    depth = net.cfg.depth
    if net.cfg.exit_mode == "ranked":  # routes depend on sigma too: each block on its rows
        routes = [net.route(int(kk), s) for kk, s in zip(k, sigma.tolist(), strict=True)]
        return routed_forward(model, x, sigma, routes, text_emb, budget, known, mask)
    tail = [depth - 1] if net.cfg.exit_mode == "reroute" else []
    for kk in np.unique(k):  # the same blocks as DiT.route, or fail loudly if that rule changes
        if net.route(int(kk)) != [*range(int(kk) - len(tail)), *tail]:
            raise RuntimeError(f"DiT.route({kk}) is not a prefix plus {tail}")
    order = np.argsort(-k, kind="stable")  # (B,) most blocks first
    idx = torch.from_numpy(order).to(x.device)
    x, sigma, text_emb, budget, known, mask = (
        v[idx] for v in (x, sigma, text_emb, budget, known, mask))
    c_skip, c_out, c_in, c_noise = edm_coefficients(sigma.to(x.dtype), model.sigma_data)  # (B,)
    h, c, c_final = net.embed(x * c_in[:, None, None], c_noise, text_emb, budget, known, mask)
    cos, sin = net.rope(h)  # (L, Dh/2) each
    prefix = k[order] - len(tail)  # (B,) blocks of the shared prefix each sample runs
    for i in range(int(prefix.max())):
        n = int((prefix > i).sum())  # samples still running: rows 0..n-1
        h = torch.cat([net.blocks[i](h[:n], c[:n], cos, sin), h[n:]])  # (B, L, D)
    for i in tail:
        h = net.blocks[i](h, c, cos, sin)  # (B, L, D)
    f = net.head(h, c_final, x.shape[2])  # (B, C, T)
    d = x * c_skip[:, None, None] + f * c_out[:, None, None]  # (B, C, T)
    return d[torch.from_numpy(np.argsort(order)).to(x.device)]  # back to the caller's order


def presto_l_loss(student: EDMPrecond, teacher: EDMPrecond, schedule: LayerSchedule,
                  x0: torch.Tensor, text: torch.Tensor, mask: torch.Tensor,
                  cfg: PrestoLConfig, train: BaseTrainConfig, gen: torch.Generator
                  ) -> tuple[torch.Tensor, dict[str, float]]:
    """Denoising + self-teacher loss for one batch. x0 (B, C, T), text (B, 384), mask (B, 1, T).

    Every random draw comes from `gen`, a CPU generator, whatever device x0 is on, so a
    step draws the same noise on a GPU as on the CPU.
    """
    b, dev = x0.shape[0], x0.device
    drop = (torch.rand(b, generator=gen) < train.text_dropout).to(dev)  # (B,) CFG text dropout
    text_s = torch.where(drop[:, None], student.net.null_text[None], text)  # (B, 384)
    text_t = torch.where(drop[:, None], teacher.net.null_text[None], text)  # (B, 384)
    sigma = (torch.randn(b, generator=gen) * train.p_std + train.p_mean).exp()  # (B,)
    budget = cfg.b_min + (1.0 - cfg.b_min) * torch.rand(b, generator=gen)  # (B,)
    budget = torch.where(torch.rand(b, generator=gen) < cfg.p_full, 1.0, budget)  # (B,)
    k = schedule.blocks(sigma.numpy(), budget.numpy())  # (B,) blocks per sample
    noise = torch.randn(x0.shape, generator=gen).to(dev)  # (B, C, T)
    sigma, budget = sigma.to(dev), budget.to(dev)
    x = x0 + noise * sigma[:, None, None]  # (B, C, T)
    guided = cfg.guided_teacher > 0
    if guided:  # every row twice: as drawn (text or dropped) and with the null prompt
        x_, sigma_, budget_, x0_, mask_ = (torch.cat([t, t]) for t in (x, sigma, budget, x0,
                                                                      mask))
        k_ = np.concatenate([k, k])
        text_s = torch.cat([text_s, student.net.null_text[None].expand(b, -1)])  # (2B, 384)
        text_t = torch.cat([text, teacher.net.null_text[None].expand(b, -1)])  # (2B, 384)
    else:
        x_, sigma_, budget_, x0_, mask_, k_ = x, sigma, budget, x0, mask, k
    with torch.no_grad():
        target = teacher(x_, sigma_, text_emb=text_t, budget=torch.ones_like(sigma_), known=x0_,
                         mask=mask_)  # (B or 2B, C, T)
    pred = ragged_forward(student, x_, sigma_, k_, text_s, budget_, x0_, mask_)
    parts: dict[str, float] = {}
    if guided:
        pred, pred_null = pred.chunk(2)  # (B, C, T) each
        t_text, t_null = target.chunk(2)
        target = torch.where(drop[:, None, None], t_null, t_text)  # what the rows as drawn saw
        g = cfg.guidance
        diff = (pred_null + g * (pred - pred_null)) - (t_null + g * (t_text - t_null))
    sd2 = train.sigma_data**2
    w = ((sigma**2 + sd2) / (sigma**2 * sd2))[:, None, None]  # (B, 1, 1) EDM weight
    denoise = masked_mean(w * (pred - x0) ** 2, mask)
    self_teacher = masked_mean(w * (pred - target) ** 2, mask)
    loss = cfg.denoise * denoise + cfg.self_teacher * self_teacher
    if guided:  # dropped rows have no prompted branch to guide: counted as known frames
        kept_mask = torch.where(drop[:, None, None], torch.ones_like(mask), mask)  # (B, 1, T)
        guided_loss = masked_mean(w * diff**2, kept_mask) / g**2
        loss = loss + cfg.guided_teacher * guided_loss
        parts["guided"] = guided_loss.item()
    return loss, {"denoise": denoise.item(), "self_teacher": self_teacher.item(), **parts,
                  "blocks": float(k.mean())}


@torch.no_grad()
def validate(model: EDMPrecond, cache: LatentCache, train: BaseTrainConfig, cfg: PrestoLConfig,
             schedule: LayerSchedule) -> dict:
    """Denoising loss of `model` on fixed valid windows at each fixed sigma x budget."""
    split = "valid" if len(cache.splits["valid"]) else "train"
    x0_all, text_all = cache.fixed_windows(split, train.val_clips, train.window_frames,
                                           train.dit.patch)
    device = next(model.parameters()).device
    model.eval()
    row = {}
    for budget in cfg.val_budgets:
        losses = []
        for sigma in train.val_sigmas:
            k = schedule.n_blocks(sigma, budget)
            total = 0.0
            for i in range(0, len(x0_all), train.batch):
                x0 = torch.from_numpy(x0_all[i : i + train.batch]).to(device)  # (b, C, T)
                text = torch.from_numpy(text_all[i : i + train.batch]).to(device)  # (b, 384)
                n = x0.shape[0]
                gen = torch.Generator().manual_seed(1234 + i)
                x = x0 + torch.randn(x0.shape, generator=gen).to(device) * sigma  # (b, C, T)
                d = model(x, torch.full((n,), sigma, device=device), text_emb=text,
                          budget=torch.full((n,), budget, device=device), n_blocks=k)
                w = (sigma**2 + train.sigma_data**2) / (sigma * train.sigma_data) ** 2
                total += n * float((w * (d - x0) ** 2).mean())
            losses.append(total / len(x0_all))
        row[f"val_b{budget:g}"] = round(float(np.mean(losses)), 5)
    model.train()
    return row


def init_weights(init_run: Path, teacher_meta: dict, cfg: PrestoLConfig
                 ) -> tuple[dict[str, torch.Tensor], dict]:
    """The EMA weights (float32) of a Presto-L run to continue from, and provenance.

    Refuses (SystemExit naming the mismatch) a run that is not Presto-L, was fine-tuned
    from another teacher's latents, or has another exit mode or layer schedule than `cfg`.
    """
    path = Path(init_run) / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--init {init_run}: no checkpoint.pt there (a presto-l run)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "presto_l" not in state or "schedule" not in state:
        raise SystemExit(f"--init {init_run}: not a presto-l run (no layer schedule)")
    other = PrestoLConfig.from_dict(state["presto_l"])
    if other.exit_mode != cfg.exit_mode:
        raise SystemExit(f"--init {init_run} was fine-tuned with exit mode {other.exit_mode}, "
                         f"this run uses {cfg.exit_mode}")
    if other.drop_order != cfg.drop_order:
        raise SystemExit(f"--init {init_run} was fine-tuned with another drop order")
    depth = BaseTrainConfig.from_dict(state["train_config"]).dit.depth
    if state["schedule"] != cfg.schedule(depth).to_dict():
        raise SystemExit(f"--init {init_run} has another layer schedule: {state['schedule']}")
    if abs(float(state["sigma_data"]) - float(teacher_meta["sigma_data"])) > 1e-6:
        raise SystemExit(f"--init {init_run} was trained on other latents than the teacher")
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["ema"].items()}
    return weights, {"run": str(Path(init_run).resolve()), "step": int(state["step"])}


def student_configs(teacher_meta: dict, cfg: PrestoLConfig, steps: int) -> BaseTrainConfig:
    """The teacher's training config with the student's DiT exit mode and fine-tune settings."""
    base = BaseTrainConfig.from_dict(teacher_meta["train_config"])
    dit = replace(base.dit, exit_mode=cfg.exit_mode, drop_order=cfg.drop_order)
    return replace(base, dit=dit, steps=steps, lr=cfg.lr,
                   warmup=cfg.warmup, lr_final=cfg.lr_final, ema_decay=cfg.ema_decay,
                   batch=cfg.batch or base.batch, seed=cfg.seed,
                   sigma_data=teacher_meta["sigma_data"])


def main(run: PrestoLRun) -> Path:
    if run.baseline not in BASELINES:
        raise ValueError(f"unknown baseline {run.baseline!r}; choose 'ase' or none")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("engine.train presto-l runs as one process (no torchrun/DDP yet)")
    cfg = replace(get_preset(run.preset), exit_mode=BASELINES[run.baseline])
    if run.drop_order is not None:
        if run.baseline is not None:
            raise SystemExit("--drop-order is for Presto-L, not the ASE baseline")
        cfg = replace(cfg, exit_mode="ranked", drop_order=read_drop_order(run.drop_order))
    run.out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path, val_path = (
        run.out / n for n in ("checkpoint.pt", "losses.jsonl", "valid.jsonl"))
    state = None
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = PrestoLConfig.from_dict(state["presto_l"])
    elif ckpt_path.exists():
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    overrides = {"steps": run.steps, "guided_teacher": run.guided_teacher, "lr": run.lr,
                 "denoise": run.denoise}
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    threads = run.threads or cfg.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    device = pick_device(run.device)

    teacher, meta = load_teacher(run.teacher)
    teacher.to(device)
    try:
        train = student_configs(meta, cfg, cfg.steps)
    except ValueError as e:  # a drop order made for another depth
        raise SystemExit(f"--drop-order {run.drop_order}: {e}") from None
    schedule = cfg.schedule(train.dit.depth)
    cache_dir = latent_cache_dir(run.teacher, meta, run.cache)
    cache = open_latent_cache(cache_dir)
    student = EDMPrecond(DiT(train.dit), train.sigma_data)
    init_info = (state or {}).get("init", {})  # provenance of --init, kept across resumes
    if run.init is not None and state is None:
        weights, init_info = init_weights(run.init, meta, cfg)
    else:
        weights = teacher.net.state_dict()  # the teacher's EMA weights (a resume loads over)
    student.net.load_state_dict(weights)
    student.to(device)
    ema = copy.deepcopy(student).requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=cfg.lr, betas=train.betas,
                            weight_decay=train.weight_decay)
    step, wall = 0, 0.0
    if state is not None:
        student.net.load_state_dict(state["model"])
        ema.net.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step, wall = state["step"], state["wall_s"]
        torch.set_rng_state(state["torch_rng"])
        truncate_log(log_path, step)
        truncate_log(val_path, step)
    else:
        for path in (log_path, val_path):
            path.unlink(missing_ok=True)
    info = {"teacher": str(Path(run.teacher).resolve()), "teacher_step": meta.get("step"),
            "cache": str(cache_dir.resolve()), "codec": meta.get("codec"),
            "data": meta.get("data"), "preset": run.preset, "baseline": run.baseline,
            **({"init": init_info} if init_info else {})}
    write_json_atomic({"presto_l": cfg.to_dict(), "train": train.to_dict(),
                       "schedule": schedule.to_dict(), "threads": threads,
                       "device": str(device), **info},
                      run.out / "config.json")

    def checkpoint() -> None:
        save_atomic({"train_config": train.to_dict(), "presto_l": cfg.to_dict(),
                     "schedule": schedule.to_dict(), "model": cpu_state(student.net),
                     "ema": cpu_state(ema.net), "optimizer": opt.state_dict(), "step": step,
                     "wall_s": wall, "torch_rng": torch.get_rng_state(),
                     "sigma_data": train.sigma_data, **info}, ckpt_path)
        plot_losses(log_path, run.out / "losses.png", LOSS_KEYS)
        if val_path.exists():
            keys = [k for k in read_log(val_path)[-1] if k.startswith("val_")]
            plot_losses(val_path, run.out / "valid.png", keys)

    if step == 0:  # the starting point: the base weights at each budget before fine-tuning
        with open(val_path, "a") as f:
            f.write(json.dumps({"step": 0, "wall_s": 0.0,
                                **validate(ema, cache, train, cfg, schedule)}) + "\n")
    student.train()
    last_ckpt, t0 = time.monotonic(), time.monotonic() - wall
    t_log, acc = time.monotonic(), []
    name = "ase" if run.baseline else "presto-l"
    bar = tqdm(total=cfg.steps, initial=step, desc=name, unit="step", dynamic_ncols=True)
    done = progress(step, wall, train, run.minutes)
    with open(log_path, "a") as log:
        while done < 1.0:
            rng = np.random.default_rng([cfg.seed, step])  # the batch depends on the step
            gen = torch.Generator().manual_seed(step_seed(cfg.seed, step))
            x0, text = cache.sample(rng, "train", train.batch, train.window_frames,
                                    train.dit.patch, train.bucket_frames)
            mask = torch.from_numpy(prefix_mask(rng, train.batch, x0.shape[2], train))
            x0, text, mask = (torch.from_numpy(x0).to(device), torch.from_numpy(text).to(device),
                              mask.to(device))  # (B, C, T), (B, 384), (B, 1, T)
            lr = lr_at(step, done, train)
            for g in opt.param_groups:
                g["lr"] = lr
            with autocast(device):
                loss, parts = presto_l_loss(student, teacher, schedule, x0, text, mask, cfg,
                                            train, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(student.parameters(), train.grad_clip)
            opt.step()
            ema_update(ema, student, cfg.ema_decay, step)
            step += 1
            acc.append({"loss": loss.item(), "grad": float(gnorm), **parts})
            bar.update(1)
            bar.set_postfix(loss=f"{acc[-1]['loss']:.3f}", k=f"{parts['blocks']:.1f}")
            wall = time.monotonic() - t0
            done = progress(step, wall, train, run.minutes)
            if step % cfg.log_every == 0 or done >= 1.0:
                now = time.monotonic()
                row = mean_log_row(step, wall, lr, acc, now - t_log, digits=5)
                log.write(json.dumps(row) + "\n")
                log.flush()
                t_log, acc = now, []
            if step % cfg.val_every == 0 or done >= 1.0:
                row = {"step": step, "wall_s": round(wall, 1),
                       **validate(ema, cache, train, cfg, schedule)}
                with open(val_path, "a") as f:
                    f.write(json.dumps(row) + "\n")
            if time.monotonic() - last_ckpt > cfg.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
    bar.close()
    checkpoint()
    tail = read_log(log_path)[-10:]
    val = read_log(val_path)
    write_json_atomic({"steps": step, "wall_s": round(wall, 1),
                       "final_loss": float(np.mean([r["loss"] for r in tail])) if tail else None,
                       "final_val": val[-1] if val else None, **info},
                      run.out / "train_state.json")
    return run.out
