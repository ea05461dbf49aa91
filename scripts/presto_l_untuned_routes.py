"""The base model with blocks dropped and no fine-tuning: which blocks to drop matters.

    python scripts/presto_l_untuned_routes.py --teacher RUNS/base --drop-order ORDER.json \
        --cache LATENTS --data CORPUS [--clips 32] [--blocks 6]

The teacher's own weights under three routes at the same cost, k of depth blocks at
every noise level: the reroute (blocks 0..k-2, then the last), ranked with the measured
drop order (engine.train block-order), and all blocks for reference. Heun 16, CFG 3, the
presto-l bench's held-out clips and classifier. Prints one line per route. Session 13's
reading: docs/presto_l.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.bench.presto_l import Model, generate_clip, held_out, load_model, onnx_network, score
from engine.bench.quality.embed import Classifier
from engine.edm import karras_sigmas
from engine.edm.precond import EDMPrecond
from engine.latent_codec import load_latent_codec
from engine.model.dit import DiT
from engine.model.layer_schedule import LayerSchedule


def with_route(model: Model, exit_mode: str, drop_order: tuple) -> Model:
    """The same weights under another exit mode (and drop order)."""
    cfg = replace(model.cfg, dit=replace(model.cfg.dit, exit_mode=exit_mode,
                                         drop_order=drop_order))
    net = DiT(cfg.dit)
    net.load_state_dict(model.denoiser.net.state_dict())
    meta = {**model.meta, "source": [*model.meta["source"], exit_mode]}  # the export stamp
    return replace(model, cfg=cfg, denoiser=EDMPrecond(net, model.denoiser.sigma_data).eval(),
                   meta=meta)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--teacher", type=Path, required=True, help="base run (checkpoint.pt)")
    p.add_argument("--drop-order", type=Path, required=True, help="engine.train block-order file")
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--codec", type=Path, default=Path("exported/codec"))
    p.add_argument("--clips", type=int, default=32)
    p.add_argument("--blocks", type=int, default=6, help="blocks run at every noise level")
    p.add_argument("--out", type=Path,
                   default=Path(tempfile.gettempdir()) / "presto_l_untuned_routes")
    a = p.parse_args()
    torch.set_num_threads(1)
    teacher = load_model(a.teacher)
    order = tuple(tuple(band) for band in json.loads(a.drop_order.read_text())["drop_order"])
    depth = teacher.cfg.dit.depth
    codec = load_latent_codec(a.codec)
    real = held_out(teacher, codec, teacher.cfg.window_frames + 4, a.clips, a.cache, a.data)
    frames = min(z.shape[1] for z in real.latents)
    shape = (teacher.cfg.dit.latent_channels, frames)
    classifier = Classifier(Path("reports/quality/classifier"))
    flat = LayerSchedule.for_depth(depth, tilt=0.0)  # k = the budget's share, at every sigma
    budget = (a.blocks - flat.min_blocks) / (depth - flat.min_blocks)
    routes = {"all blocks": ("reroute", (), 1.0), f"reroute, {a.blocks}": ("reroute", (), budget),
              f"ranked, {a.blocks}": ("ranked", order, budget)}
    for name, (mode, drop, b) in routes.items():
        model = with_route(teacher, mode, drop)
        net = onnx_network(model, a.out / mode, threads=1)
        null = model.denoiser.net.null_text.detach().numpy()
        latents, audio = [], []
        for i, text in enumerate(real.text):  # the teacher's budget input stays 1: k alone drops
            z, ks = generate_clip(net, null, text, flat, b, karras_sigmas(16), "heun", 3.0,
                                  shape, i, budget_input=1.0)
            latents.append(z)
            audio.append(codec.decode(z)[:, : frames * codec.samples_per_latent])
        row = score(latents, audio, real, codec.sample_rate, classifier)
        print(f"{name:>12}: {np.mean(ks):.1f} blocks, FD classifier {row['fd_classifier']:.1f}, "
              f"FD log-mel {row['fd_logmel']:.1f}, family {row['family_acc']:.2f}", flush=True)


if __name__ == "__main__":
    main()
