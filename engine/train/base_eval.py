"""Validation of the base model: EDM loss at fixed noise levels on fixed valid windows.

A fixed sigma (rather than the training's log-normal draw) makes the numbers
comparable across steps and runs: the loss is in F's unit-variance space, so a
model that has learned nothing scores about 1 at every sigma.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from engine.edm.loss import EDMLoss
from engine.edm.precond import EDMPrecond
from engine.train.base_config import BaseTrainConfig
from engine.train.checkpoint import read_log
from engine.train.latent_cache import LatentCache


@torch.no_grad()
def validate(model: EDMPrecond, cache: LatentCache, cfg: BaseTrainConfig) -> dict:
    """EDM loss of `model` at each fixed sigma over fixed valid windows (no prefix, real text)."""
    split = "valid" if len(cache.splits["valid"]) else "train"
    x0, text = cache.fixed_windows(split, cfg.val_clips, cfg.window_frames, cfg.dit.patch)
    loss_fn = EDMLoss(cfg.p_mean, cfg.p_std, cfg.sigma_data)
    device = next(model.parameters()).device
    model.eval()
    row = {}
    for sigma in cfg.val_sigmas:
        total = 0.0
        for i in range(0, len(x0), cfg.batch):
            x = torch.from_numpy(x0[i : i + cfg.batch]).to(device)  # (b, D, T)
            t = torch.from_numpy(text[i : i + cfg.batch]).to(device)  # (b, 384)
            b = x.shape[0]
            gen = torch.Generator(device).manual_seed(1234 + i)
            budget = torch.full((b,), cfg.budget, device=device)

            def denoise(xn, s, t=t, budget=budget):
                return model(xn, s, text_emb=t, budget=budget)

            sigmas = torch.full((b,), sigma, device=device)
            total += b * float(loss_fn(denoise, x, sigma=sigmas, generator=gen))
        row[f"sigma_{sigma:g}"] = round(total / len(x0), 5)
    row["val_loss"] = round(float(np.mean(list(row.values()))), 5)
    model.train()
    return row


def plot_validation(log_path: Path, png_path: Path) -> None:
    """One panel: validation loss against step, one line per sigma, the mean in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key in [k for k in rows[-1] if k.startswith("sigma_")]:
        ax.plot(steps, [r.get(key, np.nan) for r in rows], marker=".", lw=1, label=key[6:])
    ax.plot(steps, [r["val_loss"] for r in rows], "k-", marker="o", lw=2, label="mean")
    ax.set_xlabel("step")
    ax.set_ylabel("EDM loss (valid, EMA)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(title="sigma", fontsize=7)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)
