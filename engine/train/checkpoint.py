"""Atomic checkpoints, JSONL logs and loss-curve plots shared by the trainers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save to a temporary file then rename, so a crash never leaves half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def write_json_atomic(obj: dict, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_log(path: Path, last_step: int) -> None:
    """Drop log lines written after the checkpoint we resume from."""
    rows = [r for r in read_log(path) if r["step"] <= last_step]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def plot_losses(log_path: Path, png_path: Path, keys: list[str]) -> None:
    """One panel per loss key against step (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_log(log_path)
    if not rows:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.2), squeeze=False)
    steps = [r["step"] for r in rows]
    for ax, key in zip(axes[0], keys, strict=True):
        ax.plot(steps, [r.get(key, float("nan")) for r in rows], lw=1)
        ax.set_title(key)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, png_path)


def mean_log_row(step: int, wall_s: float, lr: float, acc: list[dict], seconds: float,
                 digits: int = 5) -> dict:
    """One losses.jsonl row: the mean of each key over the steps in `acc` since the last row."""
    means = {k: round(float(sum(a[k] for a in acc) / len(acc)), digits) for k in acc[0]}
    return {"step": step, "wall_s": round(wall_s, 1), "lr": lr, **means,
            "s_per_step": round(seconds / len(acc), 3)}
