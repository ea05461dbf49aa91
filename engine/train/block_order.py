"""Rank a base model's blocks, per noise band, by how little dropping them changes its output.

    python -m engine.train block-order --teacher RUNS/base --cache LATENTS --out ORDER.json \
        [--edges 10 1.5 0] [--sigmas 20 3 0.5 0.1] [--clips 12] [--frames 172]

Presto-L's reroute drops blocks k-1..depth-2 whatever the noise level; measured on the
base model, those are among the blocks whose removal changes its x0 the most at low
noise (docs/presto_l.md, session 13). This measures instead, for each band of noise
levels [edge_i, edge_{i-1}) (the first band has no upper end), a greedy drop order over
blocks 0..depth-2 (the last block always runs): at each step the block whose removal,
with those already removed, moves the full network's x0 least, in units of the full
network's own error, averaged over the band's probe sigmas and a fixed set of valid
windows. The result is the `drop_order` of a ranked route
(engine.model.layer_schedule.route; `engine.train presto-l --drop-order ORDER.json`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from engine.edm.precond import EDMPrecond
from engine.model.layer_schedule import check_drop_order
from engine.train.presto_l import load_teacher, routed_forward


@torch.no_grad()
def denoise_with(model: EDMPrecond, blocks: list[int], x: torch.Tensor, sigma: float,
                 text: torch.Tensor) -> torch.Tensor:
    """D(x, sigma) (B, C, T) running only `blocks` (network order), nothing known."""
    s = torch.full((x.shape[0],), sigma)  # (B,)
    zeros = torch.zeros_like(x)
    return routed_forward(model, x, s, [blocks] * x.shape[0], text, torch.ones_like(s), zeros,
                          zeros[:, :1])


def rank_band(model: EDMPrecond, x0: torch.Tensor, text: torch.Tensor, sigmas: list[float],
              seed: int = 0) -> tuple[tuple[int, ...], list[float]]:
    """Greedy drop order of blocks 0..depth-2 over probe `sigmas`, and the error after each
    drop (RMS change of x0 / RMS error of the full network, mean over sigmas)."""
    depth = model.net.cfg.depth
    gen = torch.Generator().manual_seed(seed)
    noisy = [(x0 + s * torch.randn(x0.shape, generator=gen), s) for s in sigmas]
    full = [denoise_with(model, list(range(depth)), x, s, text) for x, s in noisy]
    scale = [float((f - x0).pow(2).mean().sqrt()) for f in full]

    def error(dropped: set[int]) -> float:
        kept = [i for i in range(depth) if i not in dropped]
        return float(np.mean([float((denoise_with(model, kept, x, s, text) - f).pow(2).mean()
                                    .sqrt()) / e for (x, s), f, e in zip(noisy, full, scale,
                                                                          strict=True)]))

    order: list[int] = []
    errors: list[float] = []
    for _ in range(depth - 1):
        candidates = [i for i in range(depth - 1) if i not in order]
        scores = [error({*order, i}) for i in candidates]
        best = int(np.argmin(scores))
        order.append(candidates[best])
        errors.append(round(scores[best], 4))
    return tuple(order), errors


def main(teacher_dir: Path, cache_dir: Path | None, out: Path, edges: list[float],
         sigmas: list[float], clips: int, frames: int, threads: int = 1) -> dict:
    from engine.train.latent_cache import open_latent_cache
    from engine.train.teacher import latent_cache_dir

    torch.set_num_threads(threads)
    edges = sorted({float(e) for e in edges} | {0.0}, reverse=True)
    bands = [[s for s in sigmas if s >= edge and (i == 0 or s < edges[i - 1])]
             for i, edge in enumerate(edges)]
    for edge, probe in zip(edges, bands, strict=True):
        if not probe:
            raise SystemExit(f"block-order: no --sigmas value falls in the band sigma >= {edge:g}"
                             f" (below the next edge up): give one")
    teacher, meta = load_teacher(teacher_dir)
    cache = open_latent_cache(latent_cache_dir(teacher_dir, meta, cache_dir))
    x0, text = cache.fixed_windows("valid", clips, frames, teacher.net.cfg.patch)
    x0, text = torch.from_numpy(x0), torch.from_numpy(text)  # (N, C, T), (N, 384)
    t0 = time.time()
    result = {"drop_order": [], "errors_after_each_drop": [], "probe_sigmas": bands,
              "teacher": str(Path(teacher_dir).resolve()), "clips": int(x0.shape[0]),
              "frames": int(x0.shape[2])}
    for edge, probe in zip(edges, bands, strict=True):
        order, errors = rank_band(teacher, x0, text, probe)
        result["drop_order"].append([edge, list(order)])
        result["errors_after_each_drop"].append(errors)
        print(f"sigma >= {edge:g} (probes {probe}): drop order {list(order)}, error after "
              f"each drop {errors}", flush=True)
    check_drop_order(teacher.net.cfg.depth, result["drop_order"])
    result["seconds"] = round(time.time() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")
    return result
