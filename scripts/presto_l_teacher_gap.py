"""How far a Presto-L network's guided x0 is from the full-depth teacher's, by noise level.

    python scripts/presto_l_teacher_gap.py --teacher RUNS/base-v3 --cache LATENTS RUN [RUN ...]

For 16 fixed valid windows (256 frames) and one fixed noise draw, at each sigma: the CFG-3
output of RUN at budget 1 (all blocks) and at budget 0.7 (k(sigma, 0.7) blocks) against
the teacher's at full depth, as mean squared difference over the teacher's own mean
squared error to the clean latent. 0 is the teacher itself. Session 12's reading:
docs/presto_l.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from engine.bench.presto_l import load_model
from engine.edm import classifier_free_guidance
from engine.edm.precond import EDMPrecond
from engine.model.layer_schedule import LayerSchedule
from engine.train.latent_cache import open_latent_cache

SIGMAS = (20.0, 3.0, 0.5, 0.1, 0.02)
BUDGETS = (1.0, 0.7)
GUIDANCE = 3.0


def guided(model: EDMPrecond, x: torch.Tensor, sigma: float, budget: float, k: int,
           text: torch.Tensor) -> torch.Tensor:
    """The CFG-3 x0 estimate at `budget` and k blocks; x (B, C, T), text (B, 384)."""
    n = len(x)
    bud = torch.full((n,), budget)
    null = model.net.null_text[None].expand(n, -1)  # (B, 384)

    def branch(prompt: torch.Tensor):  # noqa: ANN202
        return lambda x, s: model(x, torch.full((n,), s), text_emb=prompt, budget=bud,
                                  n_blocks=k)

    return classifier_free_guidance(branch(text), branch(null), GUIDANCE)(x, sigma)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", type=Path, required=True, help="the base run")
    p.add_argument("--cache", type=Path, required=True, help="latent cache with a valid split")
    p.add_argument("runs", type=Path, nargs="+", help="presto-l runs")
    a = p.parse_args()
    torch.set_num_threads(1)
    teacher = load_model(a.teacher).denoiser
    x0, text = (torch.from_numpy(v) for v in
                open_latent_cache(a.cache).fixed_windows("valid", 16, 256, 2))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))  # (16, C, 256)
    schedule = LayerSchedule.for_depth(teacher.net.cfg.depth)
    with torch.inference_mode():
        targets = {s: guided(teacher, x0 + noise * s, s, 1.0, schedule.depth, text)
                   for s in SIGMAS}
        for run in a.runs:
            model = load_model(run).denoiser
            cells = []
            for s in SIGMAS:
                t = targets[s]
                gaps = [float(((guided(model, x0 + noise * s, s, b, schedule.n_blocks(s, b),
                                       text) - t) ** 2).mean() / ((t - x0) ** 2).mean())
                        for b in BUDGETS]
                cells.append(f"sigma {s:g}: " + " / ".join(f"{g:.3f}" for g in gaps))
            print(f"{run.name} (budget {' / '.join(map(str, BUDGETS))}): " + "; ".join(cells))


if __name__ == "__main__":
    main()
