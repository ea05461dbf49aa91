"""Presto-S: distil the base model into a few-step generator (DESIGN section 7); Presto-LS.

    python -m engine.train presto-s --teacher /root/presto-data/runs/base \
        --out /root/presto-data/runs/presto-s [--resume] [--steps N] [--minutes M] \
        [--ablation gen-train|discrete] [--guidance W] [--threads T]
    python -m engine.train presto-ls --presto-l /root/presto-data/runs/presto-l \
        --teacher /root/presto-data/runs/base --out /root/presto-data/runs/presto-ls

Networks: the teacher (the base run's EMA weights, frozen, full depth) gives the real
score with classifier-free guidance; the generator starts as the teacher (Presto-LS: as
the Presto-L student, with its layer schedule, and a budget in [b_min, 1] per call);
the fake score starts as the teacher and learns the generator's distribution online
(EDM denoising loss on fresh generator samples, `fake_updates` times per generator
update); a small discriminator head reads the fake network's hidden states after
`disc_block` of its blocks (least-squares GAN: real corpus latents vs generator
samples, both noised at sigma ~ noise_gan) and trains with the fake score's
optimiser. The generator's loss is DMD2's normalised distribution-matching gradient
plus gan_gen_weight times the LSGAN generator loss (engine.train.presto_s_steps).

RUN gets checkpoint.pt in the base format (train_config with the teacher's data
settings and the generator's DiT, ema = the generator's EMA, sigma_data, codec_stats,
schedule for Presto-LS; plus model, fake, head, both optimisers, step, RNG), so
`python -m engine.export model --run RUN --kind presto-s --mode distilled --steps 4`
exports it; losses.jsonl/.png, fd.jsonl/.png (FD of the EMA generator at 1/2/4/8 steps
along training on latent statistics and on the quality classifier's features of decoded
audio, with the teacher's 32-step guided FD as reference), snapshots/step-N/checkpoint.pt
(the EMA generator every `snapshot_every` updates, exportable the same way: distillation
can pass its best point and drift, and the FD curve says where), config.json,
train_state.json. Batches and noise depend only on (seed, update, phase), so a resumed
run reaches the weights an uninterrupted one would have.

`--device cuda` (engine.train.device) runs the four networks on a GPU in float32 (TF32
matrix products); the batches and every random number are still drawn on the CPU and
moved there, so the noise does not depend on the device, and checkpoints and snapshots
hold host-memory weights either way.
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

from engine.edm.precond import EDMPrecond
from engine.model.config import DiTConfig
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
from engine.train.device import cpu_state, pick_device
from engine.train.latent_cache import LatentCache, open_latent_cache
from engine.train.presto_l import load_teacher
from engine.train.presto_s_config import PrestoSConfig, ablation, get_preset
from engine.train.presto_s_eval import AudioFD, FDProbe, plot_fd
from engine.train.presto_s_parts import DiscriminatorHead, make_level_aware
from engine.train.presto_s_steps import Batch, Networks, fake_update, generator_update
from engine.train.teacher import latent_cache_dir

DEFAULT_CLASSIFIER = Path(__file__).resolve().parents[2] / "reports" / "quality" / "classifier"
# PrestoSRun fields that, when given, override the preset's (or the resumed run's) value
OVERRIDES = ("steps", "guidance", "lr_gen", "lr_fake", "guidance_sigma_min", "anchor_sigma",
             "snapshot_every", "fake_updates", "batch", "fake_by_level", "fake_by_budget", "gan",
             "dmd_norm", "window_frames", "fd_frames", "gan_gen_weight")
LOSS_KEYS = ["dmd", "gen_gan", "fake", "disc", "d_real", "d_fake", "grad_gen", "lr"]


@dataclass(frozen=True)
class PrestoSRun:
    teacher: Path  # base training run (checkpoint.pt with EMA weights and its latent cache)
    out: Path  # run directory
    preset: str = "tiny"
    resume: bool = False
    steps: int | None = None  # generator updates; overrides the preset
    minutes: float | None = None  # wall-clock budget: stop (and finish the LR decay) by then
    presto_l: Path | None = None  # Presto-LS: the Presto-L run that initialises the generator
    ablation: str | None = None  # "gen-train" | "discrete" (see presto_s_config)
    cache: Path | None = None  # latent cache dir (default: the teacher's)
    threads: int | None = None  # torch threads (default: the preset's, else all cores)
    guidance: float | None = None  # the real score's CFG weight (default: the preset's)
    lr_gen: float | None = None  # generator peak learning rate (default: the preset's)
    lr_fake: float | None = None  # fake score + discriminator peak learning rate
    # the quality bench's classifier for FD on decoded audio along training (None: off)
    classifier: Path | None = DEFAULT_CLASSIFIER
    # exported codec that decodes samples for it (default: the teacher's, if exported)
    codec: Path | None = None
    snapshot_every: int | None = None  # updates between EMA snapshots (default: the preset's)
    guidance_sigma_min: float | None = None  # guidance interval's lower end (preset's: 0)
    anchor_sigma: float | None = None  # teacher regression below this input sigma (preset's: 0)
    fake_updates: int | None = None  # fake-score updates per generator update (preset's: 5)
    batch: int | None = None  # generator samples per update (preset's: 4)
    fake_by_level: bool | None = None  # a level-aware fake score (preset's: off)
    fake_by_budget: bool | None = None  # Presto-LS: a budget-aware fake score and critic
    gan: bool | None = None  # the adversarial loss (preset's: on)
    dmd_norm: str | None = None  # "sample" | "batch" DMD gradient scale (preset's: batch)
    window_frames: int | None = None  # longest training crop in latent frames (preset's: 172)
    fd_frames: int | None = None  # FD probe window in latent frames (preset's: the crop's)
    gan_gen_weight: float | None = None  # the generator's adversarial weight (preset's: 5e-2)
    device: str = "cpu"  # "auto", "cpu" or "cuda" (engine.train.device)
    # Presto-LS from a step-distilled start: a Presto-S run of the same teacher whose
    # generator, plus the Presto-L run's change to the teacher, starts the generator, and
    # whose fake score and critic start theirs (`from_presto_s`)
    from_presto_s: Path | None = None
    # step counts whose schedule levels the generator is trained at (its inputs; default:
    # the preset's 1, 2, 4, 8): e.g. (2,) specialises it to 2-step sampling
    gen_steps: tuple[int, ...] | None = None
    fd_steps: tuple[int, ...] | None = None  # step counts the FD probe samples at


def step_overrides(cfg: PrestoSConfig, run: PrestoSRun) -> PrestoSConfig:
    """cfg with --gen-steps / --fd-steps applied; SystemExit for a bad request."""
    if run.gen_steps is not None:
        if cfg.noise_gen.kind != "schedule":
            raise SystemExit(f"--gen-steps needs generator inputs on the inference schedule; "
                             f"this run draws them as {cfg.noise_gen.kind!r} (--ablation?)")
        if not run.gen_steps or min(run.gen_steps) < 1:
            raise SystemExit(f"--gen-steps must be step counts >= 1, got {list(run.gen_steps)}")
        cfg = replace(cfg, noise_gen=replace(cfg.noise_gen, steps=tuple(run.gen_steps)))
    if run.fd_steps is not None:
        if not run.fd_steps or min(run.fd_steps) < 1:
            raise SystemExit(f"--fd-steps must be step counts >= 1, got {list(run.fd_steps)}")
        cfg = replace(cfg, fd_steps=tuple(run.fd_steps))
    return cfg


def from_presto_s(run: PrestoSRun, teacher: EDMPrecond, meta: dict, presto_l: dict
                  ) -> tuple[dict, dict, dict | None, dict]:
    """Generator weights, fake-score weights, critic weights (or None) and provenance for a
    Presto-LS run that starts from a finished Presto-S run instead of the teacher.

    generator = S + (L - T): the Presto-S run's EMA generator S plus the Presto-L student's
    weight change L - T from the teacher T they both started from, so the start carries
    step distillation and the budget conditioning and reroute adaptation at once (task
    arithmetic on two fine-tunes of one network). The fake score and critic continue from
    where the Presto-S run left them, already tracking a few-step generator.
    """
    path = Path(run.from_presto_s) / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"--from-presto-s {run.from_presto_s}: no checkpoint.pt there")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("kind") != "presto-s" or "fake" not in state:
        raise SystemExit(f"--from-presto-s {run.from_presto_s}: not a full presto-s run "
                         "checkpoint (a snapshot holds no fake score; use the run dir)")
    if abs(float(state["sigma_data"]) - float(meta["sigma_data"])) > 1e-6:
        raise SystemExit(f"--from-presto-s {run.from_presto_s} was distilled from another "
                         "teacher's latents")
    base = teacher.net.state_dict()
    if set(state["ema"]) != set(base):
        raise SystemExit(f"--from-presto-s {run.from_presto_s}: its generator is not this "
                         "teacher's architecture")
    generator = {k: state["ema"][k].float() + presto_l[k].float() - base[k].float()
                 if base[k].is_floating_point() else presto_l[k] for k in base}
    info = {"presto_s_run": str(Path(run.from_presto_s).resolve()),
            "presto_s_step": int(state["step"])}
    return generator, state["fake"], state.get("head"), info


def generator_init(run: PrestoSRun, teacher: EDMPrecond, meta: dict
                   ) -> tuple[DiTConfig, dict, LayerSchedule, dict]:
    """The generator's DiT config, initial weights, layer schedule and provenance."""
    depth = teacher.net.cfg.depth
    if run.presto_l is None:
        return teacher.net.cfg, teacher.net.state_dict(), LayerSchedule.for_depth(depth), {}
    path = Path(run.presto_l) / "checkpoint.pt"
    if not path.exists():
        raise SystemExit(f"{path} not found: train Presto-L first (python -m engine.train "
                         "presto-l --teacher RUN --out RUN)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if "schedule" not in state:
        raise SystemExit(f"{path} has no layer schedule: is {run.presto_l} a Presto-L run?")
    dit = BaseTrainConfig.from_dict(state["train_config"]).dit
    if dit.depth != depth or dit.width != teacher.net.cfg.width:
        raise SystemExit(f"{run.presto_l} is a depth-{dit.depth} width-{dit.width} DiT, the "
                         f"teacher depth-{depth} width-{teacher.net.cfg.width}: Presto-LS needs "
                         "a Presto-L run fine-tuned from this teacher")
    if abs(float(state["sigma_data"]) - float(meta["sigma_data"])) > 1e-6:
        raise SystemExit(f"{run.presto_l} and {run.teacher} have different sigma_data: not "
                         "trained on the same latents")
    info = {"presto_l_run": str(Path(run.presto_l).resolve()), "presto_l_step": state.get("step")}
    return dit, state["ema"], LayerSchedule(**state["schedule"]), info


def draw_batch(cache: LatentCache, cfg: PrestoSConfig, train: BaseTrainConfig, step: int,
               phase: int) -> Batch:
    """The batch of update `step`, phase 0 (generator) or 1.. (fake-score updates)."""
    rng = np.random.default_rng([cfg.seed, step, phase])
    x0, text = cache.sample(rng, "train", cfg.batch, cfg.window_frames, train.dit.patch,
                            train.bucket_frames)
    mask = prefix_mask(rng, cfg.batch, x0.shape[2], train)  # (B, 1, T) known prefixes
    return Batch(torch.from_numpy(x0), torch.from_numpy(text), torch.from_numpy(mask))


def main(run: PrestoSRun) -> Path:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise SystemExit("engine.train presto-s runs as one process (no torchrun/DDP yet)")
    cfg = ablation(get_preset(run.preset), run.ablation)
    run.out.mkdir(parents=True, exist_ok=True)
    ckpt_path, log_path, fd_path = (run.out / n for n in ("checkpoint.pt", "losses.jsonl",
                                                           "fd.jsonl"))
    state = None
    if run.resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = PrestoSConfig.from_dict(state["presto_s"])
    elif ckpt_path.exists():
        raise SystemExit(f"{ckpt_path} exists: pass --resume or choose another --out")
    overrides = {name: getattr(run, name) for name in OVERRIDES}
    cfg = step_overrides(replace(cfg, **{k: v for k, v in overrides.items() if v is not None}),
                         run)
    if run.presto_l is None and run.from_presto_s is not None:
        raise SystemExit("--from-presto-s is a Presto-LS start: pass --presto-l too")
    if run.presto_l is None and cfg.fake_by_budget:
        raise SystemExit("--fake-by-budget is for Presto-LS (a Presto-S generator runs at "
                         "budget 1 only)")
    threads = run.threads or cfg.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    device = pick_device(run.device)

    try:
        teacher, meta = load_teacher(run.teacher)
    except FileNotFoundError as e:
        raise SystemExit(str(e)) from None
    teacher_cfg = BaseTrainConfig.from_dict(meta["train_config"])
    cfg = cfg.with_teacher(teacher_cfg.p_mean, teacher_cfg.p_std)
    dit, init, schedule, init_info = generator_init(run, teacher, meta)
    start_fake = start_head = None
    if run.from_presto_s is not None:
        if state is None:
            init, start_fake, start_head, s_info = from_presto_s(run, teacher, meta, init)
        else:  # resuming: the checkpoint holds every network; keep the start's provenance
            s_info = {k: state[k] for k in ("presto_s_run", "presto_s_step") if k in state}
        init_info = {**init_info, **s_info}
    sd = float(meta["sigma_data"])
    train = replace(teacher_cfg, dit=dit, steps=cfg.steps, lr=cfg.lr_gen, warmup=cfg.warmup,
                    lr_final=cfg.lr_final, ema_decay=cfg.ema_decay, batch=cfg.batch,
                    seed=cfg.seed, sigma_data=sd)
    generator = EDMPrecond(DiT(dit), sd)
    generator.net.load_state_dict(init)
    ema = copy.deepcopy(generator).requires_grad_(False)
    fake = EDMPrecond(DiT(teacher.net.cfg), sd)
    fake.net.load_state_dict(start_fake if start_fake is not None else teacher.net.state_dict())
    if cfg.fake_by_level or cfg.fake_by_budget:  # (a resumed run's weights are loaded over)
        make_level_aware(fake)
    torch.manual_seed(cfg.seed)  # the head's initial weights
    head = DiscriminatorHead(teacher.net.cfg.width, cfg.disc_hidden) if cfg.gan else None
    if head is not None and start_head is not None:
        head.load_state_dict(start_head)
    for module in (teacher, generator, ema, fake, head):
        if module is not None:
            module.to(device)
    layered = run.presto_l is not None
    nets = Networks(generator, teacher, fake, head, schedule, layered)
    opt_gen = torch.optim.AdamW(generator.parameters(), lr=cfg.lr_gen, betas=cfg.betas,
                                weight_decay=cfg.weight_decay)
    fake_params = [*fake.parameters(), *(head.parameters() if head else [])]
    opt_fake = torch.optim.AdamW(fake_params, lr=cfg.lr_fake, betas=cfg.betas,
                                 weight_decay=cfg.weight_decay)
    step, wall, reference = 0, 0.0, None
    if state is not None:
        generator.net.load_state_dict(state["model"])
        ema.net.load_state_dict(state["ema"])
        fake.net.load_state_dict(state["fake"])
        if head is not None:
            head.load_state_dict(state["head"])
        opt_gen.load_state_dict(state["optimizer"])
        opt_fake.load_state_dict(state["optimizer_fake"])
        step, wall, reference = state["step"], state["wall_s"], state.get("reference_fd")
        torch.set_rng_state(state["torch_rng"])
        truncate_log(log_path, step)
        truncate_log(fd_path, step)
    else:
        for path in (log_path, fd_path):
            path.unlink(missing_ok=True)
    cache_dir = latent_cache_dir(run.teacher, meta, run.cache)
    if not (cache_dir / "index.json").exists():
        raise SystemExit(f"no latent cache in {cache_dir}: pass --cache with the teacher's "
                         "latent cache (RUN/latents of the base run)")
    cache = open_latent_cache(cache_dir)
    audio, why = (AudioFD.open(run.codec or meta.get("codec"), run.classifier)
                  if cfg.fd_audio else (None, ""))
    if cfg.fd_audio and audio is None:
        print(f"classifier FD along training is off: {why}")
    probe = FDProbe.build(cache, cfg.fd_clips, cfg.probe_frames, dit.patch, audio=audio)
    budgets = (1.0, cfg.b_min) if layered else (1.0,)
    kind = "presto-ls" if layered else "presto-s"
    info = {"kind": kind, "teacher": str(Path(run.teacher).resolve()),
            "teacher_step": meta.get("step"), "cache": str(cache_dir.resolve()),
            "codec": meta.get("codec"), "codec_stats": meta.get("codec_stats"),
            "data": meta.get("data"), "preset": run.preset, **init_info}
    write_json_atomic({"presto_s": cfg.to_dict(), "train": train.to_dict(),
                       "schedule": schedule.to_dict(), "threads": threads,
                       "device": str(device), **info},
                      run.out / "config.json")

    def checkpoint() -> None:
        save_atomic({"train_config": train.to_dict(), "presto_s": cfg.to_dict(),
                     **({"schedule": schedule.to_dict()} if layered else {}),
                     "model": cpu_state(generator.net), "ema": cpu_state(ema.net),
                     "fake": cpu_state(fake.net),
                     "head": cpu_state(head) if head is not None else None,
                     "optimizer": opt_gen.state_dict(), "optimizer_fake": opt_fake.state_dict(),
                     "step": step, "wall_s": wall, "torch_rng": torch.get_rng_state(),
                     "sigma_data": sd, "reference_fd": reference, **info}, ckpt_path)
        plot_losses(log_path, run.out / "losses.png", LOSS_KEYS)
        plot_fd(fd_path, run.out / "fd.png", reference)

    def snapshot() -> None:
        """The EMA generator alone, exportable like the run (engine.export model --run DIR)."""
        (run.out / "snapshots" / f"step-{step:06d}").mkdir(parents=True, exist_ok=True)
        save_atomic({"train_config": train.to_dict(), "presto_s": cfg.to_dict(),
                     **({"schedule": schedule.to_dict()} if layered else {}),
                     "ema": cpu_state(ema.net), "step": step, "wall_s": wall,
                     "sigma_data": sd, "reference_fd": reference, **info},
                    run.out / "snapshots" / f"step-{step:06d}" / "checkpoint.pt")

    def measure_fd() -> None:
        row = {"step": step, "wall_s": round(wall, 1),
               **probe.generator_row(ema, cfg.fd_steps, budgets, schedule, cfg.noise_gen)}
        with open(fd_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    if step == 0:  # the starting point, and the teacher's own FD as the yardstick
        reference = probe.teacher_fd(teacher, cfg.guidance, cfg.reference_steps)
        measure_fd()
    last_ckpt, t0 = time.monotonic(), time.monotonic() - wall
    t_log, acc = time.monotonic(), []
    bar = tqdm(total=cfg.steps, initial=step, desc=kind, unit="update", dynamic_ncols=True)
    done = progress(step, wall, train, run.minutes)
    with open(log_path, "a") as log:
        while done < 1.0:
            lr = lr_at(step, done, train)
            for opt, peak in ((opt_gen, cfg.lr_gen), (opt_fake, cfg.lr_fake)):
                for g in opt.param_groups:
                    g["lr"] = peak * lr / cfg.lr_gen
            fake_parts = []
            for phase in range(1, cfg.fake_updates + 1):
                gen = torch.Generator().manual_seed(step_seed(cfg.seed, step, phase))
                batch = draw_batch(cache, cfg, train, step, phase).to(device)
                fake_parts.append(fake_update(nets, opt_fake, batch, cfg, sd, gen))
            gen = torch.Generator().manual_seed(step_seed(cfg.seed, step, 0))
            batch = draw_batch(cache, cfg, train, step, 0).to(device)
            parts = generator_update(nets, opt_gen, batch, cfg, gen)
            ema_update(ema, generator, cfg.ema_decay, step)
            step += 1
            parts.update({k: float(np.mean([p[k] for p in fake_parts])) for k in fake_parts[0]})
            acc.append(parts)
            bar.update(1)
            bar.set_postfix(dmd=f"{parts['dmd']:.4f}", fake=f"{parts['fake']:.3f}")
            wall = time.monotonic() - t0
            done = progress(step, wall, train, run.minutes)
            if step % cfg.log_every == 0 or done >= 1.0:
                now = time.monotonic()
                row = mean_log_row(step, wall, lr, acc, now - t_log, digits=6)
                log.write(json.dumps(row) + "\n")
                log.flush()
                t_log, acc = now, []
            if step % cfg.fd_every == 0 or done >= 1.0:
                measure_fd()
            if cfg.snapshot_every and (step % cfg.snapshot_every == 0 or done >= 1.0):
                snapshot()
            if time.monotonic() - last_ckpt > cfg.ckpt_minutes * 60:
                checkpoint()
                last_ckpt = time.monotonic()
    bar.close()
    checkpoint()
    tail = read_log(log_path)[-10:]
    fd = read_log(fd_path)
    write_json_atomic({"steps": step, "wall_s": round(wall, 1),
                       "final_dmd": float(np.mean([r["dmd"] for r in tail])) if tail else None,
                       "final_fd": fd[-1] if fd else None, "reference_fd": reference, **info},
                      run.out / "train_state.json")
    return run.out
